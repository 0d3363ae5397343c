// Exceptions shared by host and plugins (default visibility so catch works across libraries).
#pragma once
#include <stdexcept>
#include <string>

#include "mdlab/abi.hpp"

namespace mdlab {

// A failure while running: the cell that raised it fails, the run exits with code 1.
class MDLAB_VISIBLE Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Something the user supplied is wrong (a parameter value, a file): exit code 2.
// `key` names the parameter or input port at fault, when there is one.
class MDLAB_VISIBLE InputError : public Error {
public:
    explicit InputError(const std::string& message, std::string key = {})
        : Error(message), key_(std::move(key)) {}
    const std::string& key() const noexcept { return key_; }

private:
    std::string key_;
};

}  // namespace mdlab
