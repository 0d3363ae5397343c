// Behaviour kept (expected_results.hpp): the quickstart's results.csv is the kept one, bit for
// bit, on every instruction-set path this CPU runs. The claim tests check their smokes' files on
// the path they run on.
#include <catch2/catch.hpp>

#include <mdlab/isa.hpp>

#include "command.hpp"
#include "expected_results.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace isa = mdlab::isa;

TEST_CASE("the quickstart's results.csv is the kept one, bit for bit, on every path") {
    for (isa::Path path : isa::supported_paths()) {
        TempDir tmp;
        const auto r = run_mdlab({"run", (source_dir() / "pipelines" / "quickstart.json").string(), "--out",
                                  (tmp.path() / "run").string(), "-q"},
                                 {std::string("MDLAB_ISA=") + isa::name(path)});
        INFO("quickstart on the " << isa::name(path) << " path\nstderr: " << r.err);
        REQUIRE(r.exit_code == 0);
        check_expected_results("quickstart", tmp.path() / "run", path);
    }
}
