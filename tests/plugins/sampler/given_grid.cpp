// grid: "given" (mdlab/given_grid.hpp), for every fixed-step sampler at once: a list of times
// equal to a computed grid gives the same samples bit for bit, k-diffusion's Karras sigmas give
// the karras grid's samples to rounding, a list starting below T still reaches the exact Gaussian
// marginal, files hold the same lists, and bad lists are refused with their key, index and value.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab/runtime/registry.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;
namespace fs = std::filesystem;

namespace {

// Every sampler of the build that offers grid "given": all that step on a time grid (rk45,
// which declares the common parameters but refuses a given grid, is tested below).
std::vector<std::string> grid_samplers_of_build() {
    std::vector<std::string> out;
    for (const auto* rec : registry().all(mdlab::Kind::sampler)) {
        const mdlab::ParamSpec* grid = rec->spec.find_param("grid");
        if (rec->spec.name != "rk45" && grid &&
            std::find(grid->choices.begin(), grid->choices.end(), "given") != grid->choices.end())
            out.push_back(rec->spec.name);
    }
    return out;
}
const std::vector<std::string> grid_samplers = grid_samplers_of_build();

std::string number(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", x);  // reads back as x
    return buf;
}

std::string json_list(const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + number(v[i]);
    return s + "]";
}

std::shared_ptr<const GaussianScore> gaussian(const std::string& process, double s0 = 0.7, std::size_t d = 3) {
    return std::make_shared<GaussianScore>(make<mdlab::ForwardProcess>(process), d, s0);
}

double max_abs_difference(const Matrix& a, const Matrix& b) {
    REQUIRE(a.shape() == b.shape());
    double m = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) m = std::max(m, std::abs(a.data()[k] - b.data()[k]));
    return m;
}

double max_abs(const Matrix& a) {
    double m = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) m = std::max(m, std::abs(a.data()[k]));
    return m;
}

// k-diffusion's get_sigmas_karras(n, sigma_min, sigma_max, rho) without its final 0.
std::vector<double> karras_sigmas(std::size_t n, double sigma_min, double sigma_max, double rho) {
    std::vector<double> s(n);
    const double a = std::pow(sigma_max, 1.0 / rho), b = std::pow(sigma_min, 1.0 / rho);
    for (std::size_t i = 0; i < n; ++i) s[i] = std::pow(a + double(i) / double(n - 1) * (b - a), rho);
    return s;
}

double noise_ratio(const mdlab::ForwardProcess& p, double t) { return p.sigma(t) / p.alpha(t); }

// The message and key of the InputError that f throws.
template <class F>
std::pair<std::string, std::string> refusal(F&& f) {
    try {
        f();
    } catch (const mdlab::InputError& e) {
        return {e.what(), e.key()};
    }
    return {"<no input error>", ""};
}

}  // namespace

TEST_CASE("every fixed-step sampler offers grid given") {
    for (const std::string name : {"euler_maruyama", "ddpm_ancestral", "ddim", "pf_ode_euler", "pf_ode_heun", "dpmpp_2m",
                                   "predictor_corrector", "annealed_langevin"})
        CHECK(std::find(grid_samplers.begin(), grid_samplers.end(), name) != grid_samplers.end());
}

TEST_CASE("a given list of times equal to the uniform or log_snr grid gives bit-identical samples") {
    // Bit for bit from a .npy file, which holds the doubles exactly; a JSON list is read by the
    // pipeline's JSON parser (Boost.JSON 1.81), whose decimal conversion can be off in the last
    // bit, so the list in the parameters matches to rounding.
    TestContext files(1);
    const fs::path npy = files.output_dir() / "times.npy";
    const std::size_t steps = 12;
    const double t_min = 1e-3;
    for (const std::string process : {"vp", "ve"}) {
        const auto p = make<mdlab::ForwardProcess>(process);
        for (const std::string grid : {"uniform", "log_snr"}) {
            const std::vector<double> times = mdlab::time_grid(*p, grid, steps, t_min);
            mdlab::npy::write_array(npy, times.data(), {times.size()});
            for (const auto& name : grid_samplers)
                for (const bool denoise : {false, true}) {
                    INFO(name << " on " << process << ", grid " << grid << ", denoise " << denoise);
                    const std::string common = R"({"n": 60, "steps": 12, "denoise": )" + std::string(denoise ? "true" : "false");
                    const auto computed = run(name, common + R"(, "t_min": 0.001, "grid": ")" + grid + "\"}", gaussian(process));
                    const auto from_file =
                        run(name, common + R"(, "grid": "given", "times_file": ")" + npy.string() + "\"}", gaussian(process));
                    CHECK(identical(computed.samples, from_file.samples));
                    CHECK(stat(computed, "nfe") == stat(from_file, "nfe"));
                    CHECK(stat(from_file, "steps") == double(steps));
                    const auto listed = run(name, common + R"(, "grid": "given", "times": )" + json_list(times) + "}", gaussian(process));
                    CHECK(max_abs_difference(computed.samples, listed.samples) <= 1e-12 * max_abs(computed.samples));
                }
        }
    }
}

TEST_CASE("k-diffusion's Karras sigmas ending in 0 give the karras grid with denoise, to rounding") {
    // karras(n) + [0] is our karras grid with steps = n - 1, t_min at sigma_min and denoise: true.
    const std::size_t n = 11;
    const double t_min = 2e-3, rho = 7.0;
    for (const std::string process : {"ve", "edm", "vp"}) {
        const auto p = make<mdlab::ForwardProcess>(process);
        std::vector<double> sigmas = karras_sigmas(n, noise_ratio(*p, t_min), noise_ratio(*p, p->t_end()), rho);
        sigmas.push_back(0.0);
        for (const auto& name : grid_samplers) {
            INFO(name << " on " << process);
            const auto computed =
                run(name, R"({"n": 60, "steps": 10, "t_min": 0.002, "grid": "karras", "denoise": true})", gaussian(process));
            const auto given =
                run(name, R"({"n": 60, "steps": 10, "grid": "given", "sigmas": )" + json_list(sigmas) + "}", gaussian(process));
            CHECK(max_abs_difference(computed.samples, given.samples) <= 1e-9 * max_abs(computed.samples));
            CHECK(stat(computed, "nfe") == stat(given, "nfe"));  // the final 0 is the Tweedie step
        }
    }
}

TEST_CASE("a given grid that starts below T scales the prior to its first time") {
    for (const std::string process : {"ve", "edm", "vp", "cosine"}) {
        const auto est = gaussian(process);
        const auto& p = est->process();
        const double T = p.t_end(), t0 = 0.3 * T;
        CHECK(mdlab::SamplerSettings::prior_std_at(p, T) == p.prior_std());
        if (process == "ve" || process == "edm")  // prior sigma(T): k-diffusion's sigmas[0] * randn
            CHECK(mdlab::SamplerSettings::prior_std_at(p, t0) == Approx(p.sigma(t0)).epsilon(1e-14));
        else  // prior 1 = alpha^2 + sigma^2, the marginal of unit-variance data at every t
            CHECK(mdlab::SamplerSettings::prior_std_at(p, t0) == Approx(1.0).epsilon(1e-12));
    }
}

TEST_CASE("samplers on a given grid that starts below T reach the exact Gaussian marginal") {
    // The exact score of N(0, s0^2 I); after the flow, x ~ N(0, alpha^2 s0^2 + sigma^2) at the
    // last time, up to the prior's approximation at t0 (sigma(t0)^2 for a variance of
    // s0^2 + sigma(t0)^2 on ve: 0.1% here) and the steps' discretisation.
    const std::size_t n = 20000, d = 2;
    std::vector<double> sigmas;  // geometric from 20 (below ve's sigma(T) = 50) to 0.02
    for (std::size_t i = 0; i <= 100; ++i) sigmas.push_back(20.0 * std::pow(1e-3, double(i) / 100.0));
    for (const std::string process : {"ve", "vp"}) {
        const double s0 = process == "vp" ? 1.0 : 0.7;
        const auto est = gaussian(process, s0, d);
        const double t_last = est->process().time_at_noise_ratio(sigmas.back());
        for (const std::string name : {"pf_ode_heun", "euler_maruyama", "dpmpp_2m"}) {
            INFO(name << " on " << process);
            const auto r = run(name, R"({"n": 20000, "steps": 100, "grid": "given", "sigmas": )" + json_list(sigmas) + "}", est);
            REQUIRE(mdlab::rows(r.samples) == n);
            check_gaussian(r.samples, est->variance(t_last), 0.01 * est->variance(t_last));
        }
    }
}

TEST_CASE("a grid given in a .txt, .csv or .npy file gives the samples of the same list in the parameters") {
    TestContext files(1);
    const std::vector<double> sigmas{30.0, 8.0, 2.0, 0.5, 0.1, 0.0};
    const fs::path txt = files.output_dir() / "ays.txt", csv = files.output_dir() / "ays.csv",
                   npy = files.output_dir() / "ays.npy", times_txt = files.output_dir() / "times.txt";
    write_text(txt, "# Align Your Steps-style list\n30 8 2\n0.5\t0.1 0  # ends in 0: denoise\n");
    write_text(csv, "sigma\n30,\n8\n2\n0.5\n0.1\n0\n");
    mdlab::npy::write_array(npy, sigmas.data(), {sigmas.size()});
    const auto ve = make<mdlab::ForwardProcess>("ve");
    std::vector<double> times;
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) times.push_back(ve->time_at_noise_ratio(sigmas[i]));
    {
        std::ofstream out(times_txt);
        for (double t : times) out << number(t) << "\n";
    }
    const auto listed = run("pf_ode_heun", R"({"n": 50, "steps": 4, "grid": "given", "sigmas": )" + json_list(sigmas) + "}",
                            gaussian("ve"));
    for (const fs::path& f : {txt, csv, npy}) {
        INFO(f);
        const auto from_file = run("pf_ode_heun", R"({"n": 50, "steps": 4, "grid": "given", "sigmas_file": ")" + f.string() + "\"}",
                                   gaussian("ve"));
        CHECK(identical(listed.samples, from_file.samples));
    }
    // The same grid as times (and denoise, which the final 0 of sigmas implies).
    const auto as_times = run("pf_ode_heun",
                              R"({"n": 50, "steps": 4, "grid": "given", "denoise": true, "times_file": ")" + times_txt.string() + "\"}",
                              gaussian("ve"));
    CHECK(max_abs_difference(listed.samples, as_times.samples) <= 1e-12 * max_abs(listed.samples));
}

TEST_CASE("a sampler ignores the lists unless its grid is given, so a sweep may vary the grid") {
    const auto plain = run("pf_ode_euler", R"({"n": 40, "steps": 8})", gaussian("ve"));
    const auto with_list = run("pf_ode_euler", R"({"n": 40, "steps": 8, "sigmas": [3, 2, 1]})", gaussian("ve"));
    CHECK(identical(plain.samples, with_list.samples));
}

TEST_CASE("bad given grids are refused naming the key, the index and the value") {
    struct Case {
        std::string params, key;
        std::vector<std::string> mentions;
    };
    const std::vector<Case> at_construction{
        {R"({"grid": "given"})", "grid", {"grid 'given' needs its list", "sigmas or times"}},
        {R"({"grid": "given", "steps": 1, "sigmas": [2, 1], "times": [0.5, 0.1]})", "times",
         {"sigmas and times are both set"}},
        {R"({"grid": "given", "steps": 2, "sigmas": [1, 2, 0.5]})", "sigmas",
         {"sigmas[1] = 2 is not below sigmas[0] = 1", "strictly decreasing"}},
        {R"({"grid": "given", "steps": 2, "sigmas": [5, 0, 1]})", "sigmas",
         {"sigmas[1] = 0 must be positive", "only the last entry may be 0"}},
        {R"({"grid": "given", "steps": 1, "sigmas": [5, -1]})", "sigmas", {"sigmas[1] = -1 must be positive"}},
        {R"({"grid": "given", "steps": 1, "sigmas": [5, 0]})", "sigmas",
         {"at least 2 sigmas before the final 0", "sigmas has 1"}},
        {R"({"grid": "given", "steps": 2, "times": [0.9, 0.5, 0]})", "times",
         {"times[2] = 0 must be positive", "a final 0 is for sigmas"}},
        {R"({"grid": "given", "steps": 2, "times": [0.9, 0.9, 0.1]})", "times", {"times[1] = 0.9 is not below times[0] = 0.9"}},
        {R"({"grid": "given", "times": [0.9, 0.5, 0.1]})", "steps",
         {"steps = 100 but times has 3 entries, 2 steps", "set steps to 2"}},
        {R"({"grid": "given", "steps": 3, "sigmas": [9, 3, 1, 0]})", "steps",
         {"steps = 3 but sigmas has 4 entries, 2 steps", "final 0 is the Tweedie step"}},
    };
    for (const auto& c : at_construction) {
        INFO(c.params);
        const auto [what, key] = refusal([&] { make<mdlab::Sampler>("pf_ode_euler", c.params); });
        CHECK(key == c.key);
        for (const auto& m : c.mentions) CHECK_THAT(what, Catch::Contains(m));
    }

    // On the process (when the sampler runs): the range of the process's time axis.
    const std::vector<std::pair<std::string, Case>> on_process{
        {"vp", {R"({"grid": "given", "steps": 2, "times": [2, 1, 0.5]})", "times",
                {"times[0] = 2 is beyond the process's end time T = 1"}}},
        {"ve", {R"({"grid": "given", "steps": 1, "sigmas": [100, 1]})", "sigmas",
                {"sigmas[0] = 100 is above the process's largest noise level sigma(T)/alpha(T) = 50"}}},
        {"ve", {R"({"grid": "given", "steps": 1, "sigmas": [10, 0.001]})", "sigmas",
                {"sigmas[1] = 0.001 is not above the process's smallest noise level sigma(0)/alpha(0) = 0.01"}}},
        {"edm", {R"({"grid": "given", "steps": 1, "sigmas": [80.000001, 1]})", "sigmas",
                 {"sigmas[0] = 80.000001 is above", "= 80"}}},
    };
    for (const auto& [process, c] : on_process) {
        INFO(process << " " << c.params);
        CHECK(make<mdlab::Sampler>("ddim", c.params));  // the list alone is fine
        const auto [what, key] = refusal([&] { run("ddim", c.params, gaussian(process)); });
        CHECK(key == c.key);
        for (const auto& m : c.mentions) CHECK_THAT(what, Catch::Contains(m));
    }
}

TEST_CASE("bad grid files and rk45 with a given grid are refused") {
    TestContext files(1);
    const fs::path txt = files.output_dir() / "bad.txt", npy = files.output_dir() / "matrix.npy";
    write_text(txt, "3, 2\n1, abc\n");
    const std::vector<double> m{3, 2, 1, 0.5};
    mdlab::npy::write_array(npy, m.data(), {2, 2});
    auto [what, key] = refusal([&] {
        make<mdlab::Sampler>("ddim", R"({"grid": "given", "steps": 2, "sigmas_file": ")" + txt.string() + "\"}");
    });
    CHECK(key == "sigmas_file");
    CHECK_THAT(what, Catch::Contains(txt.string() + ":2:4: 'abc' is not a finite number"));
    std::tie(what, key) = refusal([&] {
        make<mdlab::Sampler>("ddim", R"({"grid": "given", "steps": 3, "times_file": ")" + npy.string() + "\"}");
    });
    CHECK(key == "times_file");
    CHECK_THAT(what, Catch::Contains("expected a list of numbers (a 1-D array, or one row or column), got 2 x 2"));
    std::tie(what, key) = refusal([&] { make<mdlab::Sampler>("rk45", R"({"grid": "given", "sigmas": [2, 1]})"); });
    CHECK(key == "grid");
    CHECK_THAT(what, Catch::Contains("rk45 chooses its steps adaptively"));
}

TEST_CASE("mdlab validate and run refuse a bad given grid with exit 2, naming node, key, index and value") {
    const std::string pipeline = R"({
  "name": "given_grid", "seed": 3,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 3}},
    {"id": "train", "plugin": "sample", "params": {"n": 40}, "inputs": {"manifold": "circle"}},
    {"id": "ve", "plugin": "ve"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "ve"}},
    {"id": "gen", "plugin": "pf_ode_heun", "params": {"n": 30, "steps": 2, "grid": "given", "sigmas": SIGMAS},
     "inputs": {"score": "score"}},
  ],
})";
    auto with = [&](const std::string& sigmas) {
        std::string s = pipeline;
        s.replace(s.find("SIGMAS"), 6, sigmas);
        return s;
    };
    TempDir tmp;
    const fs::path file = tmp.path() / "p.json";

    write_text(file, with("[40, 4, 0.4, 0]"));
    CHECK(run_mdlab({"validate", file.string()}).exit_code == 0);
    CHECK(run_mdlab({"run", file.string(), "--out", (tmp.path() / "ok").string(), "-q"}).exit_code == 0);

    write_text(file, with("[40, 4, 5, 0]"));  // not decreasing: refused by validate
    const auto v = run_mdlab({"validate", file.string()});
    CHECK(v.exit_code == 2);
    for (const std::string m : {"node 'gen'", "key 'sigmas'", "sigmas[2] = 5 is not below sigmas[1] = 4", ":8:"})
        CHECK_THAT(v.err, Catch::Contains(m));

    write_text(file, with("[60, 4, 0.4, 0]"));  // above ve's sigma(T) = 50: refused when gen runs
    const auto r = run_mdlab({"run", file.string(), "--out", (tmp.path() / "bad").string(), "-q"});
    CHECK(r.exit_code == 2);
    for (const std::string m : {"gen", "sigmas", "sigmas[0] = 60 is above the process's largest noise level"})
        CHECK_THAT(r.err + r.out, Catch::Contains(m));
}
