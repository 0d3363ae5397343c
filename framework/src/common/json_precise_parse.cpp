#include "mdlab/runtime/json_precise_parse.hpp"

#include <charconv>
#include <string>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/value_stack.hpp>

namespace mdlab::runtime {

namespace {
namespace json = boost::json;
using boost::system::error_code;

// Boost.JSON's own value-building handler (detail::handler), except that a double is converted
// from its text. A number split across input pieces arrives as on_number_part pieces and a last
// piece with on_double / on_int64 / on_uint64.
struct ExactNumberHandler {
    static constexpr std::size_t max_object_size = json::object::max_size();
    static constexpr std::size_t max_array_size = json::array::max_size();
    static constexpr std::size_t max_key_size = json::string::max_size();
    static constexpr std::size_t max_string_size = json::string::max_size();

    json::value_stack st;
    std::string number;  // the pieces of the number being read

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) { return true; }
    bool on_object_end(std::size_t n, error_code&) {
        st.push_object(n);
        return true;
    }
    bool on_array_begin(error_code&) { return true; }
    bool on_array_end(std::size_t n, error_code&) {
        st.push_array(n);
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t, error_code&) {
        st.push_chars(s);
        return true;
    }
    bool on_key(json::string_view s, std::size_t, error_code&) {
        st.push_key(s);
        return true;
    }
    bool on_string_part(json::string_view s, std::size_t, error_code&) {
        st.push_chars(s);
        return true;
    }
    bool on_string(json::string_view s, std::size_t, error_code&) {
        st.push_string(s);
        return true;
    }
    bool on_number_part(json::string_view s, error_code&) {
        number.append(s.data(), s.size());
        return true;
    }
    bool on_int64(std::int64_t i, json::string_view, error_code&) {
        number.clear();
        st.push_int64(i);
        return true;
    }
    bool on_uint64(std::uint64_t u, json::string_view, error_code&) {
        number.clear();
        st.push_uint64(u);
        return true;
    }
    bool on_double(double d, json::string_view s, error_code&) {
        number.append(s.data(), s.size());
        double exact = 0;
        const char* end = number.data() + number.size();
        const auto [ptr, err] = std::from_chars(number.data(), end, exact);
        // Out of range (1e400, 1e-400): keep Boost.JSON's value, as before.
        st.push_double(err == std::errc() && ptr == end ? exact : d);
        number.clear();
        return true;
    }
    bool on_bool(bool b, error_code&) {
        st.push_bool(b);
        return true;
    }
    bool on_null(error_code&) {
        st.push_null();
        return true;
    }
    bool on_comment_part(json::string_view, error_code&) { return true; }
    bool on_comment(json::string_view, error_code&) { return true; }
};

using ExactParser = json::basic_parser<ExactNumberHandler>;
}  // namespace

struct PreciseJsonStreamParser::Impl {
    explicit Impl(const json::parse_options& opt) : parser(opt) { parser.handler().st.reset(); }
    ExactParser parser;
};

PreciseJsonStreamParser::PreciseJsonStreamParser(const json::parse_options& opt)
    : impl_(std::make_unique<Impl>(opt)) {}
PreciseJsonStreamParser::~PreciseJsonStreamParser() = default;

std::size_t PreciseJsonStreamParser::write_some(std::string_view text, error_code& ec) {
    return impl_->parser.write_some(true, text.data(), text.size(), ec);
}

void PreciseJsonStreamParser::finish(error_code& ec) { impl_->parser.write_some(false, nullptr, 0, ec); }

json::value PreciseJsonStreamParser::release() {
    if (!impl_->parser.done()) {
        error_code ec;
        finish(ec);
        if (ec) throw boost::system::system_error(ec);
    }
    return impl_->parser.handler().st.release();
}

json::value parse_json_precise(std::string_view text, error_code& ec, const json::parse_options& opt) {
    // As boost::json::parser::write: one call with the whole text; text left over is an error.
    ExactParser p(opt);
    p.handler().st.reset();
    const std::size_t used = p.write_some(false, text.data(), text.size(), ec);
    if (!ec && used < text.size()) {
        ec = json::error::extra_data;
        p.fail(ec);
    }
    if (ec) return nullptr;
    return p.handler().st.release();
}

json::value parse_json_precise(std::string_view text, const json::parse_options& opt) {
    error_code ec;
    json::value v = parse_json_precise(text, ec, opt);
    if (ec) throw boost::system::system_error(ec);
    return v;
}

}  // namespace mdlab::runtime
