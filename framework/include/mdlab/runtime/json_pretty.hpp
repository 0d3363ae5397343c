// Indented JSON text (Boost 1.81 has no pretty printer), for files people read.
#pragma once
#include <string>

#include <boost/json/value.hpp>

namespace mdlab::runtime {

std::string json_pretty(const boost::json::value& v);

}  // namespace mdlab::runtime
