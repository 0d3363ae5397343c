// JSON text of the files a run writes and people read: indented (Boost 1.81 has no pretty
// printer) or compact, numbers in plain decimal (79, not Boost's 7.9E1).
#pragma once
#include <string>

#include <boost/json/value.hpp>

namespace mdlab::runtime {

// Indented by two spaces, "key": value, empty objects and arrays as {} and [].
std::string json_pretty(const boost::json::value& v);

// The same on one line, without spaces (cell records, MPI packets).
std::string json_text(const boost::json::value& v);

// A finite double as the shortest text that reads back to it exactly, in plain decimal when
// 1e-7 <= |v| < 1e21 (as JavaScript writes numbers: 79, 0.5, 0.000001), else with an exponent
// (1e-8, 1.5e+300). Non-finite values are left to Boost (NaN, Infinity).
std::string json_number(double v);

}  // namespace mdlab::runtime
