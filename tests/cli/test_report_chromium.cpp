// report.html in a real browser: headless Chromium (Debian's `chromium` package) loads the
// report of a real sweep over the DevTools protocol; every plot must be laid out with visible
// marks inside it, each comparison plot one line and one band per alternative, and the page
// must request nothing but its own file. Deliberately bad pages show that the checks fire. Without chromium the test fails and says how to install it.
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "command.hpp"
#include "report_sweep.hpp"

extern char** environ;

using namespace mdlab::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// chromium from $MDLAB_CHROMIUM or PATH; empty when there is none.
std::string find_chromium() {
    if (const char* env = std::getenv("MDLAB_CHROMIUM"); env && *env) return env;
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    for (std::size_t start = 0; start <= dirs.size();) {
        const std::size_t end = std::min(dirs.find(':', start), dirs.size());
        for (const char* name : {"chromium", "chromium-browser"}) {
            const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
            if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        }
        start = end + 1;
    }
    return {};
}

// A headless browser driven over --remote-debugging-pipe: it reads commands on fd 3 and
// writes replies and events on fd 4, each a JSON text ended by '\0'.
class Browser {
public:
    explicit Browser(const std::string& chromium) {
        int to[2], from[2];
        if (::pipe2(to, O_CLOEXEC) != 0 || ::pipe2(from, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 2, (profile_.path() / "chromium.log").c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, to[0], 3);
        posix_spawn_file_actions_adddup2(&actions, from[1], 4);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);  // its helpers go in one group we can stop
        posix_spawnattr_setpgroup(&attr, 0);
        std::vector<std::string> args{chromium,
                                      "--headless",
                                      "--no-sandbox",
                                      "--disable-gpu",
                                      "--remote-debugging-pipe",
                                      "--user-data-dir=" + profile_.path().string(),
                                      "--no-first-run",
                                      "--no-default-browser-check",
                                      "--disable-extensions",
                                      "--disable-background-networking",
                                      "--disable-component-update",
                                      "--disable-sync",
                                      "--host-resolver-rules=MAP * ~NOTFOUND",  // nothing reaches the network
                                      "--window-size=1280,1000",
                                      "about:blank"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int rc = posix_spawn(&pid_, chromium.c_str(), &actions, &attr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        ::close(to[0]);
        ::close(from[1]);
        write_fd_ = to[1];
        read_fd_ = from[0];
        if (rc != 0) throw std::runtime_error("cannot start " + chromium);
    }

    ~Browser() {
        if (pid_ > 0) {
            try {
                call("Browser.close");
            } catch (const std::exception&) {
            }
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            int status = 0;
            while (::waitpid(pid_, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < deadline)
                ::usleep(20000);
            ::kill(-pid_, SIGKILL);  // whatever of its process group is left
            ::waitpid(pid_, &status, WNOHANG);
        }
        ::close(write_fd_);
        ::close(read_fd_);
    }

    // Sends a command and returns its result; events that arrive meanwhile are kept.
    json::object call(const std::string& method, json::object params = {}, const std::string& session = {}) {
        const std::int64_t id = next_id_++;
        json::object message{{"id", id}, {"method", method}, {"params", std::move(params)}};
        if (!session.empty()) message["sessionId"] = session;
        std::string text = json::serialize(message);
        text.push_back('\0');
        for (std::size_t done = 0; done < text.size();) {
            const ssize_t n = ::write(write_fd_, text.data() + done, text.size() - done);
            if (n <= 0) throw std::runtime_error("chromium closed its pipe");
            done += static_cast<std::size_t>(n);
        }
        for (;;) {
            json::object reply = next_message();
            if (const auto* rid = reply.if_contains("id"); rid && rid->to_number<std::int64_t>() == id) {
                if (const auto* error = reply.if_contains("error"))
                    throw std::runtime_error(method + " failed: " + json::serialize(*error));
                return reply["result"].as_object();
            }
            events_.push_back(std::move(reply));
        }
    }

    // Waits for an event of this name (already received or coming).
    json::object wait_for(const std::string& method) {
        for (;;) {
            for (auto it = events_.begin(); it != events_.end(); ++it)
                if (it->at("method").as_string() == method) {
                    json::object e = *it;
                    events_.erase(it);
                    return e;
                }
            events_.push_back(next_message());
        }
    }

    const std::vector<json::object>& events() const { return events_; }
    std::string log() const { return read_text(profile_.path() / "chromium.log"); }

private:
    json::object next_message() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        for (;;) {
            if (const auto end = buffer_.find('\0'); end != std::string::npos) {
                json::value v = json::parse(buffer_.substr(0, end));
                buffer_.erase(0, end + 1);
                return v.as_object();
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) throw std::runtime_error("no answer from chromium within 30 s");
            pollfd p{read_fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char chunk[65536];
            const ssize_t n = ::read(read_fd_, chunk, sizeof chunk);
            if (n <= 0) throw std::runtime_error("chromium exited; its log:\n" + log());
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    TempDir profile_;
    pid_t pid_ = -1;
    int write_fd_ = -1, read_fd_ = -1;
    std::int64_t next_id_ = 1;
    std::string buffer_;
    std::vector<json::object> events_;
};

// Per plot (svg[data-plot]): its laid-out size, how many marks it has, and how many of them
// have a non-empty box inside the plot's own area.
const char* const plot_probe = R"js(
JSON.stringify(Array.from(document.querySelectorAll('svg[data-plot]')).map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = Array.from(svg.querySelectorAll('path.dots, circle.point, circle.mean, line.fit'));
  const drawn = marks.filter(m => {
    const b = m.getBBox();
    return (b.width > 0 || b.height > 0) && b.x >= 0 && b.y >= 0 &&
           b.x + b.width <= svg.width.baseVal.value && b.y + b.height <= svg.height.baseVal.value;
  });
  const visible = getComputedStyle(svg).visibility === 'visible' && getComputedStyle(svg).display !== 'none';
  // Comparison plots: the lines and bands as laid out, by the alternative they belong to.
  const shown = sel => Array.from(svg.querySelectorAll(sel)).filter(p => {
    const b = p.getBBox();
    return (b.width > 0 || b.height > 0) && b.x >= 0 && b.y >= 0 &&
           b.x + b.width <= svg.width.baseVal.value && b.y + b.height <= svg.height.baseVal.value;
  });
  const lines = shown('path.line'), bands = shown('path.band');
  return {plot: svg.dataset.plot, width: box.width, height: box.height, visible: visible,
          marks: marks.length, drawn: drawn.length, declared_lines: Number(svg.dataset.lines || 0),
          lines: lines.length, bands: bands.length,
          line_labels: Array.from(new Set(lines.map(p => p.dataset.line))).sort().join('|'),
          band_labels: Array.from(new Set(bands.map(p => p.dataset.line))).sort().join('|'),
          baseline: shown('path.baseline').length, baseline_band: shown('path.baseline-band').length,
          has_baseline: svg.dataset.baseline === 'yes'};
}))
)js";

struct PageLoad {
    std::vector<std::string> outside;  // URLs requested other than the page itself
    json::array plots;                 // the probe's answer
};

PageLoad load_page(const std::string& chromium, const fs::path& file) {
    Browser browser(chromium);
    const std::string target = std::string(browser.call("Target.createTarget", {{"url", "about:blank"}}).at("targetId").as_string());
    const std::string session = std::string(
        browser.call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}}).at("sessionId").as_string());
    browser.call("Network.enable", {}, session);
    browser.call("Page.enable", {}, session);
    const std::string url = "file://" + fs::absolute(file).string();
    browser.call("Page.navigate", {{"url", url}}, session);
    browser.wait_for("Page.loadEventFired");
    const json::object answer = browser.call(
        "Runtime.evaluate", {{"expression", plot_probe}, {"returnByValue", true}}, session);
    PageLoad load;
    load.plots = json::parse(answer.at("result").at("value").as_string()).as_array();
    for (const auto& e : browser.events())
        if (e.at("method").as_string() == "Network.requestWillBeSent") {
            const std::string requested(e.at("params").at("request").at("url").as_string());
            if (requested != url) load.outside.push_back(requested);
        }
    return load;
}

std::string require_chromium() {
    const std::string chromium = find_chromium();
    if (chromium.empty())
        FAIL("chromium is not installed: this test renders report.html in headless Chromium. Install Debian's "
             "package (apt-get install chromium; scripts/bootstrap.sh test does) or set MDLAB_CHROMIUM");
    return chromium;
}

}  // namespace

TEST_CASE("report.html draws every plot in Chromium and loads nothing from outside") {
    const std::string chromium = require_chromium();
    TempDir tmp;
    write_text(tmp.path() / "sweep.json", report_sweep_pipeline(true));
    const fs::path run = tmp.path() / "run";
    const auto r = run_mdlab({"run", (tmp.path() / "sweep.json").string(), "--out", run.string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);

    const PageLoad load = load_page(chromium, run / "report.html");
    INFO("plots: " << json::serialize(load.plots));
    CHECK(load.outside.empty());
    std::map<std::string, std::size_t> kinds;
    for (const auto& p : load.plots) {
        const json::object& plot = p.as_object();
        INFO(json::serialize(plot));
        CHECK(plot.at("width").to_number<double>() > 100);
        CHECK(plot.at("height").to_number<double>() > 100);
        CHECK(plot.at("visible").as_bool());
        CHECK(plot.at("marks").to_number<int>() > 0);
        CHECK(plot.at("drawn") == plot.at("marks"));
        ++kinds[std::string(plot.at("plot").as_string())];
    }
    CHECK(kinds["samples"] == 8);  // 4 training sizes (first seed) x 2 samplers
    CHECK(kinds["rate"] == 2);     // the two declared rates
    CHECK(kinds["comparison"] > 0);
}

TEST_CASE("each comparison plot draws one line and one band per alternative, and the baseline where there is one") {
    const std::string chromium = require_chromium();
    TempDir tmp;
    write_text(tmp.path() / "samplers.json", report_alternatives_pipeline());
    const fs::path run = tmp.path() / "run";
    const auto r = run_mdlab({"run", (tmp.path() / "samplers.json").string(), "--out", run.string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);

    const PageLoad load = load_page(chromium, run / "report.html");
    CHECK(load.outside.empty());
    std::size_t comparisons = 0, with_baseline = 0;
    for (const auto& p : load.plots) {
        const json::object& plot = p.as_object();
        if (plot.at("plot").as_string() != "comparison") continue;
        INFO(json::serialize(plot));
        ++comparisons;
        CHECK(plot.at("declared_lines").to_number<int>() == 3);
        CHECK(plot.at("lines").to_number<int>() == 3);  // one path per alternative, laid out inside the plot
        CHECK(plot.at("bands").to_number<int>() == 3);  // and its 95% band
        CHECK(plot.at("line_labels").as_string() == "ddim|euler_maruyama|pf_ode_heun");
        CHECK(plot.at("band_labels") == plot.at("line_labels"));
        CHECK(plot.at("drawn") == plot.at("marks"));
        if (plot.at("has_baseline").as_bool()) {
            ++with_baseline;
            CHECK(plot.at("baseline").to_number<int>() == 1);
            CHECK(plot.at("baseline_band").to_number<int>() == 1);
        }
    }
    CHECK(comparisons == 7);    // w1, w2, the four distances and the samplers' nfe
    CHECK(with_baseline == 2);  // w1 and w2 against a fresh sample
}

TEST_CASE("the Chromium checks fire on a page with outside resources, an empty plot and a comparison plot short of a line") {
    const std::string chromium = require_chromium();
    TempDir tmp;
    const fs::path bad = tmp.path() / "bad.html";
    write_text(bad, R"html(<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="other.css"></head><body>
<img src="http://example.invalid/picture.png" alt="">
<div style="width: 10px; height: 10px; background: url(texture.png)"></div>
<svg data-plot="rate" width="200" height="200"><rect width="200" height="200" fill="#fff"/></svg>
<svg data-plot="samples" width="200" height="200"><circle class="point" cx="500" cy="500" r="3"/></svg>
<svg data-plot="comparison" data-lines="3" width="200" height="200">
<path class="line" data-line="a" d="M10 10 L50 50"/><path class="line" data-line="b" d="M10 10 L50 60"/>
<path class="band" data-line="a" d="M300 300 L400 400 L300 400 Z"/></svg>
</body></html>
)html");
    const PageLoad load = load_page(chromium, bad);
    std::set<std::string> names;
    for (const auto& url : load.outside) names.insert(fs::path(url).filename().string());
    INFO("outside requests: " << load.outside.size());
    CHECK(names.count("other.css"));
    CHECK(names.count("picture.png"));
    CHECK(names.count("texture.png"));
    REQUIRE(load.plots.size() == 3);
    CHECK(load.plots[0].at("marks").to_number<int>() == 0);  // a plot without marks
    CHECK(load.plots[1].at("marks").to_number<int>() == 1);  // a mark outside its plot
    CHECK(load.plots[1].at("drawn").to_number<int>() == 0);
    // A comparison plot with a line missing and its only band outside the frame.
    CHECK(load.plots[2].at("declared_lines").to_number<int>() == 3);
    CHECK(load.plots[2].at("lines").to_number<int>() == 2);
    CHECK(load.plots[2].at("bands").to_number<int>() == 0);
}
