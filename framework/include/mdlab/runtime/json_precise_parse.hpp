// JSON parsing that reads every number exactly. Boost.JSON 1.81's own number conversion rounds
// some decimals (about one in six 17-digit ones) to a neighbouring double; these parsers run
// Boost.JSON's grammar but convert each double's text with std::from_chars, which rounds
// correctly. Everything else (value types, options, errors, positions) is Boost.JSON's.
#pragma once
#include <cstddef>
#include <memory>
#include <string_view>

#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

namespace mdlab::runtime {

// As boost::json::parse(text, ec, {}, opt): the whole text is one JSON value.
boost::json::value parse_json_precise(std::string_view text, boost::system::error_code& ec,
                                      const boost::json::parse_options& opt = {});
// As boost::json::parse(text, {}, opt): throws boost::system::system_error on invalid JSON.
boost::json::value parse_json_precise(std::string_view text, const boost::json::parse_options& opt = {});

// As boost::json::stream_parser (write_some, finish, release), for callers that need to know
// where a syntax error stopped the parse.
class PreciseJsonStreamParser {
public:
    explicit PreciseJsonStreamParser(const boost::json::parse_options& opt = {});
    ~PreciseJsonStreamParser();
    PreciseJsonStreamParser(const PreciseJsonStreamParser&) = delete;
    PreciseJsonStreamParser& operator=(const PreciseJsonStreamParser&) = delete;

    // Parses as much of `text` as it can; returns how many characters it used.
    std::size_t write_some(std::string_view text, boost::system::error_code& ec);
    // Ends the input; sets ec when the document is incomplete.
    void finish(boost::system::error_code& ec);
    // The parsed value (call after a successful finish).
    boost::json::value release();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mdlab::runtime
