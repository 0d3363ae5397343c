// Reading JSON numbers exactly (json_precise_parse.hpp): Boost.JSON 1.81 rounds some decimals one
// ulp off; the framework's parser gives the double nearest the text, keeps integers as
// int64/uint64, and keeps JsonDocument's comments, trailing commas, positions and messages.
#include <catch2/catch.hpp>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/json_document.hpp"
#include "mdlab/runtime/json_precise_parse.hpp"

using namespace mdlab::runtime;
using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

std::uint64_t bits(double x) {
    std::uint64_t b;
    std::memcpy(&b, &x, sizeof b);
    return b;
}

std::string shortest(double x) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, x);
    return std::string(buf, r.ptr);
}

// Numbers of every magnitude a run writes, with both signs.
std::vector<double> random_doubles(std::size_t n) {
    std::mt19937_64 rng(19);
    std::uniform_real_distribution<double> mantissa(-1.0, 1.0);
    std::uniform_int_distribution<int> exponent(-330, 330);
    std::vector<double> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(std::ldexp(mantissa(rng), exponent(rng) * 3));
    return out;
}

}  // namespace

TEST_CASE("200,000 random doubles with 17 significant digits or in shortest form read back to their exact bits") {
    std::size_t stock_misses = 0, doubles = 0;
    for (const double x : random_doubles(200000)) {
        for (const std::string& text : {fmt::format("{:.17g}", x), shortest(x)}) {
            INFO(text);
            const boost::json::value v = parse_json_precise(text);
            if (!v.is_double()) continue;  // integral texts stay integers, tested below
            ++doubles;
            REQUIRE(bits(v.as_double()) == bits(x));
            stock_misses += bits(boost::json::parse(text).as_double()) != bits(x);
        }
    }
    CHECK(doubles > 390000);
    // Stock Boost.JSON 1.81 misses about a quarter of them: this test is about a real difference.
    CHECK(stock_misses > doubles / 10);
}

TEST_CASE("the cases stock Boost.JSON reads one ulp off are read exactly, in arrays and objects") {
    for (const char* text : {"-1577905.1936818277", "9.273942722454161e-17", "-7.626825684045837e-22",
                             "2.1671312780065826e+20"}) {
        INFO(text);
        double expected = 0;
        std::from_chars(text, text + std::strlen(text), expected);
        CHECK(bits(boost::json::parse(text).as_double()) != bits(expected));  // the bug this fixes
        CHECK(bits(parse_json_precise(text).as_double()) == bits(expected));
        const auto doc = JsonDocument::parse(fmt::format(R"({{"sigmas": [1, {}], "x": {{"y": {}}}}})", text, text), "t");
        CHECK(bits(doc.root().at("sigmas").at(1).as_double()) == bits(expected));
        CHECK(bits(doc.root().at("x").at("y").as_double()) == bits(expected));
    }
}

TEST_CASE("a number split across the stream parser's input pieces is read exactly") {
    PreciseJsonStreamParser p;
    boost::system::error_code ec;
    CHECK(p.write_some("[1, -1577905.19368", ec) == 18);
    CHECK(p.write_some("18277]", ec) == 6);
    p.finish(ec);
    REQUIRE(!ec);
    CHECK(bits(p.release().at(1).as_double()) == bits(-1577905.1936818277));

    PreciseJsonStreamParser top;  // a document that is one number ends only at finish
    top.write_some("9.273942722454161e-17", ec);
    top.finish(ec);
    REQUIRE(!ec);
    CHECK(bits(top.release().as_double()) == bits(9.273942722454161e-17));
}

TEST_CASE("integers keep their types, up to the int64 and uint64 limits") {
    const auto v = parse_json_precise("[0, -0, 7, -9223372036854775808, 9223372036854775807, 18446744073709551615, "
                                      "18446744073709551616, 1e400, -1e400, 1.0]");
    const auto& a = v.as_array();
    CHECK(a[0].as_int64() == 0);
    CHECK(a[1].kind() == boost::json::parse("-0").kind());
    CHECK(a[2].as_int64() == 7);
    CHECK(a[3].as_int64() == std::numeric_limits<std::int64_t>::min());
    CHECK(a[4].as_int64() == std::numeric_limits<std::int64_t>::max());
    CHECK(a[5].as_uint64() == std::numeric_limits<std::uint64_t>::max());
    CHECK(a[6].as_double() == 18446744073709551616.0);
    // Out of range: what Boost.JSON makes of it, as before.
    CHECK(bits(a[7].as_double()) == bits(boost::json::parse("1e400").as_double()));
    CHECK(bits(a[8].as_double()) == bits(boost::json::parse("-1e400").as_double()));
    CHECK(a[9].as_double() == 1.0);
}

TEST_CASE("parse_json_precise fails as boost::json::parse does") {
    for (const char* text : {"", "{", "[1,]", "{} x", "// c\n1", "01", "nul"}) {
        INFO(text);
        boost::system::error_code ours, stock;
        parse_json_precise(text, ours);
        boost::json::parse(text, stock);
        CHECK(ours.failed() == stock.failed());
        CHECK(ours.message() == stock.message());
    }
    CHECK_THROWS_AS(parse_json_precise("[1,"), boost::system::system_error);
    boost::json::parse_options opt;
    opt.allow_comments = opt.allow_trailing_commas = true;
    CHECK(parse_json_precise("// c\n[1, 2.5, /* d */]", opt) == boost::json::parse("[1, 2.5]"));
}

TEST_CASE("JsonDocument keeps comments, trailing commas, positions and error messages") {
    const auto doc = JsonDocument::parse("// head\n{\n  \"a\": 0.1, /* x */\n  \"b\": [1, 2,],\n}\n", "p.json");
    CHECK(doc.root().at("a").as_double() == 0.1);
    CHECK(doc.root().at("b").as_array().size() == 2);
    CHECK(doc.position("/a").line == 3);
    CHECK(doc.position("/a").column == 8);
    CHECK(doc.key_position("/b").line == 4);
    CHECK(doc.key_position("/b").column == 3);

    const auto error_of = [](const std::string& text) {
        try {
            JsonDocument::parse(text, "p.json");
        } catch (const BadInput& e) {
            return e.diagnostics().front();
        }
        FAIL("no error for " << text);
        return Diagnostic{};
    };
    const Diagnostic bad = error_of("{\n  \"a\": 1.5x\n}");
    CHECK(bad.line == 2);
    CHECK(bad.column == 11);
    CHECK(bad.message.rfind("invalid JSON: ", 0) == 0);
    CHECK(error_of(" \n").message == "the file is empty");
    std::string deep(65, '[');
    CHECK(error_of(deep + std::string(65, ']')).message.find("invalid JSON") == 0);
}

TEST_CASE("a single-seed group's summary.csv mean equals its results.csv value as text") {
    TempDir tmp;
    write_text(tmp.path() / "p.json", R"({
  "name": "exact", "seed": 5,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 2}},
    {"id": "train", "plugin": "sample", "params": {"n": 40}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 30}, "inputs": {"score": "score"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
  ],
  "sweep": {"grid": {"gen.steps": [2, 3, 4, 5, 6, 7]}}
})");
    const fs::path out = tmp.path() / "run";
    const auto r = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", out.string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto results = parse_csv(read_text(out / "results.csv"));
    const auto summary = parse_csv(read_text(out / "summary.csv"));
    REQUIRE(results.size() == 6);
    std::size_t compared = 0;
    for (const auto& row : results) {
        for (const std::string value : {"mean", "median", "p95", "max"}) {
            for (const auto& s : summary) {
                if (s.at("gen.steps") != row.at("gen.steps") || s.at("value") != value) continue;
                INFO("gen.steps " << row.at("gen.steps") << ", " << value);
                CHECK(s.at("n") == "1");
                CHECK(s.at("mean") == row.at(value));
                ++compared;
            }
        }
    }
    CHECK(compared == 24);
}
