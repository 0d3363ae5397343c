#include "expected_results.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

#include "command.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

namespace mdlab::test {

namespace fs = std::filesystem;

namespace {

bool updating() {
    const char* v = std::getenv("MDLAB_UPDATE_EXPECTED");
    return v && std::string(v) == "1";
}

// The first line where two texts differ (1-based), 0 when equal.
std::size_t first_difference(const std::string& a, const std::string& b) {
    std::size_t line = 1;
    for (std::size_t i = 0; i < a.size() || i < b.size(); ++i) {
        if (i >= a.size() || i >= b.size() || a[i] != b[i]) return line;
        if (a[i] == '\n') ++line;
    }
    return 0;
}

}  // namespace

void check_expected_results(const std::string& pipeline, const fs::path& run_dir, isa::Path path) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The kept files come from the Release build; a sanitizer build (other optimisation flags,
    // instrumented code) is not held to its last bits.
    WARN("sanitizer build: " << pipeline << "'s results.csv is not compared with the kept one");
    return;
#endif
    const std::string got = without_wall_times(read_text(run_dir / "results.csv"));
    const fs::path expected = source_dir() / "tests" / "expected" / isa::name(path) / (pipeline + ".csv");
    if (updating()) {
        fs::create_directories(expected.parent_path());
        write_text(expected, got);
        WARN("wrote " << expected.string());
        return;
    }
    INFO(pipeline << " on the " << isa::name(path) << " path: results.csv against " << expected.string());
    REQUIRE(fs::is_regular_file(expected));
    const std::string want = read_text(expected);
    INFO("first differing line: " << first_difference(got, want));
    CHECK(got == want);
}

}  // namespace mdlab::test
