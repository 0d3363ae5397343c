#include "command.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mdlab_test.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace mdlab::test {

namespace {

fs::path fresh_path(const std::string& stem) {
    static std::atomic<int> counter{0};
    return fs::temp_directory_path() /
           ("mdlab-" + stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
}

pid_t spawn(const std::string& program, const std::vector<std::string>& args, const std::vector<std::string>& env,
            const fs::path& out, const fs::path& err) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> argv_s{program};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The inherited environment, less the variables `env` sets (getenv takes the first of
    // duplicates, so an inherited MDLAB_ISA would otherwise win over the test's own).
    auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
        const std::string entry(*e);
        bool overridden = false;
        for (const auto& given : env) overridden = overridden || name_of(given) == name_of(entry);
        if (!overridden) env_s.push_back(entry);
    }
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + program);
    return pid;
}

int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

std::string read_text(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
}

CommandResult run_program(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::string>& env) {
    const fs::path out = fresh_path("out"), err = fresh_path("err");
    CommandResult r;
    r.exit_code = wait_for(spawn(program, args, env, out, err));
    r.out = read_text(out);
    r.err = read_text(err);
    std::error_code ec;
    fs::remove(out, ec);
    fs::remove(err, ec);
    return r;
}

CommandResult run_mdlab(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    return run_program(mdlab_executable().string(), args, env);
}

Background::Background(const std::string& program, const std::vector<std::string>& args)
    : out_(fresh_path("out")), err_(fresh_path("err")) {
    pid_ = spawn(program, args, {}, out_, err_);
}

Background::~Background() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        wait_for(pid_);
    }
    std::error_code ec;
    fs::remove(out_, ec);
    fs::remove(err_, ec);
}

void Background::signal(int sig) const { ::kill(pid_, sig); }

CommandResult Background::wait() {
    CommandResult r;
    r.exit_code = wait_for(pid_);
    pid_ = -1;
    r.out = read_text(out_);
    r.err = read_text(err_);
    return r;
}

TempDir::TempDir() : path_(fresh_path("dir")) { fs::create_directories(path_); }

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

}  // namespace mdlab::test
