// mdlab docs: the parameter tables of docs/plugins.md are generated from the plugins' specs, and
// this test fails while they are stale.
#include <catch2/catch.hpp>

#include <string>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;

namespace {

// Only the built-in plugins; the tables of mlp and drifting_generator may stay when libtorch was
// not found at build time.
const std::vector<std::string> builtin_only{"MDLAB_PLUGIN_PATH="};

CommandResult docs(const std::vector<std::string>& args) {
    std::vector<std::string> all{"docs"};
    all.insert(all.end(), args.begin(), args.end());
    all.insert(all.end(), {"--optional", "mlp", "--optional", "drifting_generator"});
    return run_mdlab(all, builtin_only);
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("docs/plugins.md holds the parameter tables the plugins' specs give") {
    const auto r = docs({"--check", (source_dir() / "docs" / "plugins.md").string()});
    INFO(r.err);
    INFO("regenerate the tables: cmake --build build --target docs (or build/bin/mdlab docs docs/plugins.md)");
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("all up to date") != std::string::npos);
}

TEST_CASE("a stale table is named by --check, left alone, and rewritten by mdlab docs") {
    TempDir dir;
    const auto file = dir.path() / "plugins.md";
    const std::string current = read_text(source_dir() / "docs" / "plugins.md");
    const std::string stale = replaced(current, "| `beta_min` | real | `0.1` |", "| `beta_min` | real | `0.2` |");
    write_text(file, stale);

    const auto check = docs({"--check", file.string()});
    CHECK(check.exit_code == 1);
    CHECK(check.err.find("the parameters of 'vp' differ from its spec") != std::string::npos);
    CHECK(check.err.find("'subvp'") == std::string::npos);  // only the table that changed
    CHECK(check.err.find("--target docs") != std::string::npos);
    CHECK(read_text(file) == stale);

    const auto update = docs({file.string()});
    CHECK(update.exit_code == 0);
    CHECK(update.out.find("1 rewritten") != std::string::npos);
    CHECK(read_text(file) == current);  // prose untouched, the table as generated
    CHECK(docs({"--check", file.string()}).exit_code == 0);
}

TEST_CASE("--check names a plugin without a region and a region without a plugin") {
    TempDir dir;
    const auto file = dir.path() / "plugins.md";
    const std::string current = read_text(source_dir() / "docs" / "plugins.md");
    write_text(file, replaced(replaced(current, "<!-- parameters: ve -->", "<!-- parameters: vee -->"),
                              "<!-- parameters: ou -->\n", "<!-- parameters: ou_process -->\n"));
    const auto check = docs({"--check", file.string()});
    CHECK(check.exit_code == 1);
    CHECK(check.err.find("parameters region of 'vee', which is no loaded plugin") != std::string::npos);
    CHECK(check.err.find("did you mean 've'") != std::string::npos);
    CHECK(check.err.find("plugin 've' has no parameters region") != std::string::npos);
    CHECK(check.err.find("plugin 'ou' has no parameters region") != std::string::npos);

    // Writing refuses rather than guess (exit 2, bad input), and leaves the file alone.
    const std::string before = read_text(file);
    CHECK(docs({file.string()}).exit_code == 2);
    CHECK(read_text(file) == before);
}

TEST_CASE("broken markers and a missing file are bad input") {
    TempDir dir;
    const auto file = dir.path() / "broken.md";
    write_text(file, "# Plugins\n\n<!-- parameters: vp -->\n| old |\n");
    const auto r = docs({"--check", file.string()});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(file.string() + ":3:1: error: the parameters region of 'vp' is not closed") != std::string::npos);

    const auto missing = docs({"--check", (dir.path() / "none.md").string()});
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("cannot read the file") != std::string::npos);
}
