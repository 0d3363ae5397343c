// The parameter tables of docs/plugins.md, rendered from specs, and the regions that hold them.
#include <catch2/catch.hpp>

#include <string>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/parameter_docs.hpp"

using namespace mdlab;
using runtime::ParameterRow;

namespace {

PluginSpec example_spec() {
    PluginSpec s("example", "1.0.0", "a plugin for the test");
    s.param(integer("n", 1000, "number of samples").at_least(1))
        .param(real("ratio", 1.0 / 3.0, "threshold").greater_than(0.0).less_than(1.0))
        .param(boolean("project", false, "project first"))
        .param(choice("grid", "uniform", {"uniform", "log_snr", "karras"}, "time grid"))
        .param(path("init", "optional .npy file"))
        .param(string("label", "a", "a label").required())
        .param(real_list("range", {}, "box [lo, hi]"))
        .param(real_or_choice("bandwidth", 0.05, {"cv"}, "h, or cv: chosen | cross-validated").at_least(0.0))
        .param(integer("record_every", 0, "writes <node>.trajectory.npy").at_least(0))
        .param(boolean("strict", true, "d1 < d2 when"));
    return s;
}

}  // namespace

TEST_CASE("rows carry type, default and accepted values, in declaration order") {
    struct Expected {
        const char *key, *type, *default_text, *values;
    };
    const std::vector<Expected> expected{
        {"n", "int", "1000", "an integer >= 1"},
        {"ratio", "real", "0.3333333333333333", "a finite number in (0, 1)"},  // shortest text that reads back
        {"project", "bool", "false", "true or false"},
        {"grid", "choice", "uniform", "one of: uniform, log_snr, karras"},
        {"init", "path", "\"\"", "a file path (string)"},  // an empty string shows as ""
        {"label", "string", "required", "a string"},
        {"range", "real[]", "[]", "an array of finite numbers"},
        {"bandwidth", "real|choice", "0.05", "a finite number >= 0 or one of: cv"},
        {"record_every", "int", "0", "an integer >= 0"},
        {"strict", "bool", "true", "true or false"}};
    const auto rows = runtime::parameter_rows(example_spec());
    REQUIRE(rows.size() == expected.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        INFO(expected[i].key);
        CHECK(rows[i].key == expected[i].key);
        CHECK(rows[i].type == expected[i].type);
        CHECK(rows[i].default_text == expected[i].default_text);
        CHECK(rows[i].values == expected[i].values);
        CHECK(rows[i].required == (rows[i].key == "label"));
    }
    CHECK(rows[0].meaning == "number of samples");
}

TEST_CASE("a list default keeps every value in its shortest form") {
    PluginSpec s("x", "1.0.0", "");
    s.param(real_list("range", {0.0, 0.1, 2.5}, "box"));
    CHECK(runtime::parameter_rows(s)[0].default_text == "[0, 0.1, 2.5]");
}

TEST_CASE("the Markdown table escapes '|' and '<' and has one row per parameter") {
    const std::string table = runtime::parameter_table_markdown(example_spec());
    CHECK(table.rfind("| parameter | type | default | accepted values | meaning |\n|---|---|---|---|---|\n", 0) == 0);
    CHECK(table.find("| `n` | int | `1000` | an integer >= 1 | number of samples |\n") != std::string::npos);
    CHECK(table.find("| `label` | string | required | a string | a label |\n") != std::string::npos);
    CHECK(table.find("| `init` | path | `\"\"` |") != std::string::npos);
    // '|' in a type, a description and a choice list would end the cell
    CHECK(table.find("| `bandwidth` | real\\|choice | `0.05` | a finite number >= 0 or one of: cv | "
                     "h, or cv: chosen \\| cross-validated |\n") != std::string::npos);
    // '<node>' would be taken for an HTML tag; a '<' that cannot open one stays as it is
    CHECK(table.find("writes \\<node>.trajectory.npy |") != std::string::npos);
    CHECK(table.find("| d1 < d2 when |") != std::string::npos);
    std::size_t lines = 0;
    for (char c : table) lines += c == '\n';
    CHECK(lines == 2 + 10);
    // each row has exactly the six unescaped bars of five cells
    std::size_t at = table.find('\n', table.find('\n') + 1) + 1;
    while (at < table.size()) {
        const std::size_t eol = table.find('\n', at);
        std::size_t bars = 0;
        for (std::size_t i = at; i < eol; ++i) bars += table[i] == '|' && table[i - 1] != '\\';
        CHECK(bars == 6);
        at = eol + 1;
    }
}

TEST_CASE("a line break in a description stays inside its cell") {
    PluginSpec s("x", "1.0.0", "");
    s.param(real("a", 1.0, "first line\nsecond line"));
    CHECK(runtime::parameter_table_markdown(s).find("first line second line |") != std::string::npos);
}

TEST_CASE("a spec renders as exactly this table; no parameters says so") {
    PluginSpec two("x", "1.0.0", "");
    two.param(integer("n", 1000, "number of samples").at_least(1)).param(boolean("project", false, "project first"));
    CHECK(runtime::parameter_table_markdown(two) ==
          "| parameter | type | default | accepted values | meaning |\n"
          "|---|---|---|---|---|\n"
          "| `n` | int | `1000` | an integer >= 1 | number of samples |\n"
          "| `project` | bool | `false` | true or false | project first |\n");
    CHECK(runtime::parameter_table_markdown(PluginSpec("none", "1.0.0", "")) == "No parameters.\n");
    CHECK(runtime::parameter_region_body(example_spec()) == runtime::parameter_table_markdown(example_spec()) + "\n");
}

TEST_CASE("regions are found in file order with their bodies") {
    const std::string text = "# Title\n\n<!-- parameters: vp -->\nold\n<!-- end parameters -->\n\ntext\n"
                             "  <!-- parameters:  ve  -->  \n<!-- end parameters -->\n";
    const auto regions = runtime::find_parameter_regions(text, "doc.md");
    REQUIRE(regions.size() == 2);
    CHECK(regions[0].plugin == "vp");
    CHECK(regions[0].line == 3);
    CHECK(text.substr(regions[0].body_begin, regions[0].body_end - regions[0].body_begin) == "old\n");
    CHECK(regions[1].plugin == "ve");
    CHECK(regions[1].line == 8);
    CHECK(regions[1].body_begin == regions[1].body_end);
    CHECK(runtime::parameters_marker("vp") == "<!-- parameters: vp -->");
}

TEST_CASE("broken markers are refused naming the file and line") {
    auto message = [](const std::string& text) {
        try {
            runtime::find_parameter_regions(text, "doc.md");
        } catch (const runtime::BadInput& e) {
            REQUIRE(e.diagnostics().size() == 1);
            return e.diagnostics()[0].format();
        }
        return std::string("no error");
    };
    CHECK_THAT(message("a\n<!-- parameters: vp -->\nrows\n"),
               Catch::Contains("doc.md:2") && Catch::Contains("'vp' is not closed"));
    CHECK_THAT(message("<!-- parameters: vp -->\n<!-- parameters: ve -->\n<!-- end parameters -->\n"),
               Catch::Contains("doc.md:2") && Catch::Contains("inside the region of 'vp'"));
    CHECK_THAT(message("x\n\n<!-- end parameters -->\n"), Catch::Contains("doc.md:3"));
    CHECK_THAT(message("<!-- parameters: -->\n<!-- end parameters -->\n"), Catch::Contains("names no plugin"));
}
