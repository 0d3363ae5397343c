// The loader refuses broken plugin libraries with a message naming the file, the reason and
// the fix, and exits 2; it never crashes on them.
#include <catch2/catch.hpp>

#include <mdlab/abi.hpp>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

TEST_CASE("broken plugin libraries are refused with the file, the reason and the fix") {
    struct Case {
        std::string fixture, reason, fix;
    };
    for (const Case& c : {Case{"wrong_abi", "ABI version " + std::to_string(MDLAB_ABI_VERSION + 1),
                               "rebuild the plugin against this mdlab's SDK"},
                          Case{"wrong_signature", "other compile settings", "-march and SIMD settings must match"},
                          Case{"no_entry", "lacks the entry points", "MDLAB_PLUGINS("}}) {
        const fs::path dir = fixture_dir() / c.fixture;
        const fs::path lib = dir / ("mdlab_" + c.fixture + ".so");
        REQUIRE(fs::is_regular_file(lib));
        const auto r = run_mdlab({"plugins", "--plugin-dir", dir.string()});
        INFO(c.fixture << ": " << r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find(lib.string()) != std::string::npos);
        CHECK(r.err.find(c.reason) != std::string::npos);
        CHECK(r.err.find(c.fix) != std::string::npos);
    }
}

TEST_CASE("a file that is not a shared library is refused") {
    TempDir tmp;
    write_text(tmp.path() / "mdlab_fake.so", "this is not an ELF file\n");
    const auto r = run_mdlab({"plugins", "--plugin-dir", tmp.path().string()});
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("mdlab_fake.so") != std::string::npos);
    CHECK(r.err.find("cannot load plugin library") != std::string::npos);
}

TEST_CASE("the same refusal through MDLAB_PLUGIN_PATH, and a missing --plugin-dir") {
    const fs::path dir = fixture_dir() / "wrong_abi";
    const auto r = run_mdlab({"plugins"}, {"MDLAB_PLUGIN_PATH=" + dir.string()});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("mdlab_wrong_abi.so") != std::string::npos);

    const auto missing = run_mdlab({"plugins", "--plugin-dir", "/nonexistent/plugins"});
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("/nonexistent/plugins") != std::string::npos);
}
