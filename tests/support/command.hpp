// Running the mdlab executable (or any program) from a test and capturing what it says.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace mdlab::test {

struct CommandResult {
    int exit_code = -1;  // 128 + signal when killed by a signal
    std::string out, err;
};

// Runs `mdlab args...` with the environment of the test (plus `env`, "NAME=value" strings).
CommandResult run_mdlab(const std::vector<std::string>& args, const std::vector<std::string>& env = {});
// Runs a program by path (searched in PATH when it has no slash).
CommandResult run_program(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::string>& env = {});

// A program started in the background; wait() collects it.
class Background {
public:
    Background(const std::string& program, const std::vector<std::string>& args);
    ~Background();
    void signal(int sig) const;
    CommandResult wait();
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    std::filesystem::path out_, err_;
};

// A fresh temporary folder removed at scope exit.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

std::string read_text(const std::filesystem::path& file);
void write_text(const std::filesystem::path& file, const std::string& text);

}  // namespace mdlab::test
