#include "mdlab/runtime/json_document.hpp"

#include <fstream>
#include <sstream>

#include <boost/json/parse_options.hpp>

#include <mdlab/regular_file.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/json_precise_parse.hpp"

namespace mdlab::runtime {

std::string pointer_escape(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

namespace {
SourcePos pos_of(const std::string& text, std::size_t offset) {
    SourcePos p{1, 1};
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++p.line;
            p.column = 1;
        } else {
            ++p.column;
        }
    }
    return p;
}
}  // namespace

// Walks text that boost::json already accepted and records where each value and key starts.
class JsonLocator {
public:
    JsonLocator(const std::string& text, JsonDocument& doc) : s_(text), doc_(doc) {}
    void run() {
        skip();
        value("");
    }

private:
    void skip() {
        for (;;) {
            while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
            if (i_ + 1 < s_.size() && s_[i_] == '/' && s_[i_ + 1] == '/') {
                while (i_ < s_.size() && s_[i_] != '\n') ++i_;
            } else if (i_ + 1 < s_.size() && s_[i_] == '/' && s_[i_ + 1] == '*') {
                const auto end = s_.find("*/", i_ + 2);
                i_ = end == std::string::npos ? s_.size() : end + 2;
            } else {
                return;
            }
        }
    }
    SourcePos here() {
        // Incremental line/column tracking.
        while (mark_ < i_) {
            if (s_[mark_] == '\n') {
                ++line_;
                col_ = 1;
            } else {
                ++col_;
            }
            ++mark_;
        }
        return SourcePos{line_, col_};
    }
    std::string string() {
        std::string out;
        ++i_;  // opening quote
        while (i_ < s_.size() && s_[i_] != '"') {
            if (s_[i_] == '\\') {
                ++i_;
                if (i_ >= s_.size()) break;
                switch (s_[i_]) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'u': out += '?'; i_ += 4; break;  // keys with \u escapes are rare; position matters, not spelling
                default: out += s_[i_];
                }
                ++i_;
            } else {
                out += s_[i_++];
            }
        }
        ++i_;  // closing quote
        return out;
    }
    void value(const std::string& ptr, std::size_t depth = 0) {
        doc_.value_pos_[ptr] = here();
        if (i_ >= s_.size() || depth > 512) return;
        const char c = s_[i_];
        if (c == '{') {
            ++i_;
            skip();
            while (i_ < s_.size() && s_[i_] != '}') {
                const SourcePos kp = here();
                const std::string key = string();
                const std::string child = ptr + "/" + pointer_escape(key);
                doc_.key_pos_[child] = kp;
                skip();
                ++i_;  // colon
                skip();
                value(child, depth + 1);
                skip();
                if (i_ < s_.size() && s_[i_] == ',') ++i_;
                skip();
            }
            ++i_;
        } else if (c == '[') {
            ++i_;
            skip();
            std::size_t k = 0;
            while (i_ < s_.size() && s_[i_] != ']') {
                value(ptr + "/" + std::to_string(k++), depth + 1);
                skip();
                if (i_ < s_.size() && s_[i_] == ',') ++i_;
                skip();
            }
            ++i_;
        } else if (c == '"') {
            string();
        } else {
            while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' && s_[i_] != ' ' &&
                   s_[i_] != '\n' && s_[i_] != '\r' && s_[i_] != '\t' && s_[i_] != '/')
                ++i_;
        }
    }
    const std::string& s_;
    JsonDocument& doc_;
    std::size_t i_ = 0, mark_ = 0, line_ = 1, col_ = 1;
};

JsonDocument JsonDocument::parse(std::string text, std::string name) {
    JsonDocument doc;
    doc.name_ = std::move(name);
    boost::json::parse_options opt;
    opt.allow_comments = true;
    opt.allow_trailing_commas = true;
    opt.max_depth = 64;
    PreciseJsonStreamParser p(opt);
    boost::system::error_code ec;
    std::size_t used = p.write_some(text, ec);
    if (!ec) p.finish(ec);
    if (ec) {
        if (text.find_first_not_of(" \t\r\n") == std::string::npos) used = 0;
        const SourcePos at = pos_of(text, used);
        Diagnostic d;
        d.file = doc.name_;
        d.line = at.line;
        d.column = at.column;
        d.message = text.find_first_not_of(" \t\r\n") == std::string::npos ? "the file is empty"
                                                                             : "invalid JSON: " + ec.message();
        d.hint = "pipelines are JSON objects; // and /* */ comments and trailing commas are allowed";
        throw BadInput(d);
    }
    doc.root_ = p.release();
    JsonLocator(text, doc).run();
    return doc;
}

JsonDocument JsonDocument::load(const std::filesystem::path& file) {
    std::error_code ec;  // checked before opening: a FIFO would block, a device never end
    if (const std::string what = not_regular_file(file); !what.empty() && std::filesystem::exists(file, ec)) {
        Diagnostic d;
        d.file = file.string();
        d.message = "is " + what + ", not a regular file";
        d.hint = "give the pipeline's JSON file";
        throw BadInput(d);
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        Diagnostic d;
        d.file = file.string();
        d.message = "cannot open the file for reading";
        d.hint = "check the path";
        throw BadInput(d);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), file.string());
}

SourcePos JsonDocument::position(const std::string& pointer) const {
    auto it = value_pos_.find(pointer);
    return it == value_pos_.end() ? SourcePos{} : it->second;
}

SourcePos JsonDocument::key_position(const std::string& pointer) const {
    auto it = key_pos_.find(pointer);
    return it == key_pos_.end() ? position(pointer) : it->second;
}

}  // namespace mdlab::runtime
