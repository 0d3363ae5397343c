// The JSON text of the run's files (json_pretty.hpp): numbers in plain decimal that read back
// exactly, the layout of the indented form, and cell records written the same way.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "mdlab/runtime/cell_record.hpp"
#include "mdlab/runtime/json_pretty.hpp"

using mdlab::runtime::json_number;
using mdlab::runtime::json_pretty;
using mdlab::runtime::json_text;

TEST_CASE("numbers are written in plain decimal: 79, not 7.9E1") {
    CHECK(json_number(79.0) == "79");
    CHECK(json_number(501.0) == "501");
    CHECK(json_number(-3.0) == "-3");
    CHECK(json_number(0.0) == "0");
    CHECK(json_number(0.5) == "0.5");
    CHECK(json_number(1e-6) == "0.000001");
    CHECK(json_number(2.6019e-05) == "0.000026019");
    CHECK(json_number(1e20) == "100000000000000000000");
    // Outside [1e-7, 1e21) plain decimal would be hundreds of digits: an exponent, as JavaScript writes it.
    CHECK(json_number(1e-8) == "1e-8");
    CHECK(json_number(3.106668901806079e-16) == "3.106668901806079e-16");
    CHECK(json_number(1.5e300) == "1.5e+300");
    CHECK(json_number(1e21) == "1e+21");
}

TEST_CASE("every finite double reads back exactly from its text") {
    std::mt19937_64 bits(19);
    std::size_t checked = 0;
    for (int i = 0; i < 200000; ++i) {
        double v;
        const std::uint64_t b = bits();
        std::memcpy(&v, &b, sizeof v);
        if (i % 2) v = std::ldexp(static_cast<double>(b >> 11) / 9007199254740992.0, static_cast<int>(b % 80) - 60);
        if (!std::isfinite(v)) continue;
        const std::string text = json_number(v);
        INFO(text);
        REQUIRE(std::strtod(text.c_str(), nullptr) == v);
        REQUIRE(text.find('E') == std::string::npos);
        ++checked;
    }
    CHECK(checked > 190000);
    for (double v : {std::numeric_limits<double>::min(), std::numeric_limits<double>::denorm_min(),
                     std::numeric_limits<double>::max(), 0.1, 1.0 / 3.0, 1e-7, 9.999999999999999e20})
        CHECK(std::strtod(json_number(v).c_str(), nullptr) == v);
}

TEST_CASE("the indented text keeps its layout, with plain numbers and integers as they are") {
    const boost::json::value v = boost::json::parse(
        R"({"cell": 3, "big": 18446744073709551615, "nfe": 79.0, "seconds": 2.6019e-05, "empty": {}, "none": [],
            "list": [1.5, "text \"quoted\"", true, null], "nested": {"a": {"b": 1e300}}})");
    CHECK(json_pretty(v) == R"({
  "cell": 3,
  "big": 18446744073709551615,
  "nfe": 79,
  "seconds": 0.000026019,
  "empty": {},
  "none": [],
  "list": [
    1.5,
    "text \"quoted\"",
    true,
    null
  ],
  "nested": {
    "a": {
      "b": 1e+300
    }
  }
}
)");
    CHECK(json_text(v) ==
          R"({"cell":3,"big":18446744073709551615,"nfe":79,"seconds":0.000026019,"empty":{},"none":[],)"
          R"("list":[1.5,"text \"quoted\"",true,null],"nested":{"a":{"b":1e+300}}})");
    // Non-finite numbers stay as Boost writes them (the run folder's readers map them to null).
    CHECK(json_text(boost::json::value(std::numeric_limits<double>::quiet_NaN())) ==
          boost::json::serialize(boost::json::value(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("a cell record keeps the cell's and its nodes' wall times, read back exactly") {
    using namespace mdlab::runtime;
    CellOutcome c;
    c.index = 4;
    c.seconds = 0.123456789;
    NodeOutcome n;
    n.status = NodeStatus::ok;
    n.values = {{"nfe", 79.0}, {"steps", 40.0}};
    n.seconds = 2.6019e-05;
    c.nodes.push_back(n);
    const std::string text = cell_record(c, "config");
    CHECK(text.find('E') == std::string::npos);
    CHECK(text.back() == '\n');
    const auto back = parse_cell_record(text, "config");
    REQUIRE(back);
    CHECK(back->index == 4);
    CHECK(back->seconds == 0.123456789);
    REQUIRE(back->nodes.size() == 1);
    CHECK(back->nodes[0].seconds == 2.6019e-05);
    CHECK(back->nodes[0].values == n.values);
    CHECK(!parse_cell_record(text, "another config"));

    // A record written before cells kept their time: the cell's time is unknown, not zero.
    const std::string older = R"({"cell":4,"configuration":"config","nodes":[]})";
    const auto old = parse_cell_record(older, "config");
    REQUIRE(old);
    CHECK(std::isnan(old->seconds));
}
