#include "option_checks.hpp"

#include "mdlab/runtime/diagnostics.hpp"

namespace mdlab::cli {

const CLI::Validator& at_least_one() {
    static const CLI::Validator check(
        [](std::string& text) -> std::string {
            try {
                std::size_t used = 0;
                const long long v = std::stoll(text, &used);
                if (used == text.size() && v >= 1) return {};
            } catch (const std::exception&) {
            }
            return "'" + text + "' is not an integer >= 1";
        },
        "INT>=1");
    return check;
}

const CLI::Validator& non_empty_path() {
    static const CLI::Validator check(
        [](std::string& text) -> std::string {
            return text.empty() ? "an empty path names nothing; give a path, or leave the option out" : std::string();
        },
        "PATH");
    return check;
}

std::string failure_message(const CLI::App* app, const CLI::Error& e) {
    return runtime::printable(CLI::FailureMessage::simple(app, e), true);
}

}  // namespace mdlab::cli
