// `mdlab bench score`, `mdlab bench run` and `mdlab bench peak` run at a tiny size, report what
// they say they report (JSON keys, figures that agree with each other and with the flop model,
// the time grid's noise levels in closed form, the kernels' instruction-set path), and refuse bad
// arguments with exit code 2 naming the option.
// Timings themselves are never asserted: only that they are positive and finite.
#include <cmath>
#include <numeric>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;

namespace {

// `base` with the options in `extra`: one that `base` has replaces its value (an option may be
// given once), the others are appended.
std::vector<std::string> with_options(std::vector<std::string> args, const std::vector<std::string>& extra) {
    for (std::size_t i = 0; i < extra.size(); ++i) {
        bool replaced = false;
        for (std::size_t k = 2; k + 1 < args.size(); k += 2)
            if (args[k] == extra[i] && i + 1 < extra.size()) {
                args[k + 1] = extra[++i];
                replaced = true;
                break;
            }
        if (!replaced) args.push_back(extra[i]);
    }
    return args;
}

// Small and quick: 64 training points, 32 queries in R^4, 2 steps, a 20 ms peak measurement.
std::vector<std::string> tiny(const std::vector<std::string>& extra = {}) {
    return with_options({"bench", "score", "--train", "64", "--queries", "32", "--dim", "4", "--steps", "2",
                         "--peak-seconds", "0.02", "--threads", "1"},
                        extra);
}

// bench run at a tiny size: 200 training points, 200 queries in R^4, 10 steps, one thread.
std::vector<std::string> tiny_run(const std::vector<std::string>& extra = {}) {
    return with_options({"bench", "run", "--train", "200", "--queries", "200", "--dim", "4", "--steps", "10",
                         "--threads", "1"},
                        extra);
}

boost::json::object run_json(const std::vector<std::string>& args) {
    const auto r = run_mdlab(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const boost::json::value v = boost::json::parse(r.out);  // throws (test fails) on anything but JSON
    REQUIRE(v.is_object());
    return v.as_object();
}

double number(const boost::json::object& o, const char* key) {
    INFO("key " << key);
    REQUIRE(o.contains(key));
    const boost::json::value& v = o.at(key);
    REQUIRE(v.is_number());
    return v.to_number<double>();
}

void check_positive_finite(const boost::json::object& o, const char* key) {
    const double v = number(o, key);
    INFO(key << " = " << v);
    CHECK(std::isfinite(v));
    CHECK(v > 0.0);
}

// sigma of the VP process at its defaults (beta_min 0.1, beta_max 20): B(t) = 0.1 t + 9.95 t^2.
double vp_sigma(double t) { return std::sqrt(-std::expm1(-(0.1 * t + 9.95 * t * t))); }

// The kernels' instruction-set path, the CPU and what chose the path, as bench score and bench run state them.
void check_kernel_path(const boost::json::object& o) {
    REQUIRE(o.contains("path"));
    const std::string path(o.at("path").as_string());
    CHECK((path == "avx512" || path == "avx2" || path == "generic"));
    CHECK(!o.at("cpu").as_string().empty());
    CHECK(!o.at("path_chosen_by").as_string().empty());
}

}  // namespace

TEST_CASE("bench score --json reports the documented keys with consistent figures") {
    const auto o = run_json(tiny({"--json"}));
    for (const char* key : {"ms_per_step", "ms_per_step_mean", "gflops", "peak_fraction", "peak_gflops", "peak_rss_mb",
                            "score_ms_per_step", "score_gflops"})
        check_positive_finite(o, key);
    CHECK(number(o, "n_train") == 64);
    CHECK(number(o, "n_queries") == 32);
    CHECK(number(o, "dim") == 4);
    CHECK(number(o, "steps") == 2);
    CHECK(number(o, "threads") == 1);
    CHECK(o.at("estimator").as_string() == "empirical");
    CHECK(o.at("precision").as_string() == "f64");
    check_kernel_path(o);
    REQUIRE(o.at("flop_model").is_string());
    CHECK(std::string(o.at("flop_model").as_string()).find("exp counted as one") != std::string::npos);

    // GFLOP/s follows from the time by the flop model 4 D N M; the fraction is against the peak.
    const double flops = 4.0 * 4 * 64 * 32;
    CHECK(number(o, "gflops") == Approx(flops / (number(o, "ms_per_step") * 1e-3) * 1e-9).epsilon(1e-9));
    CHECK(number(o, "score_gflops") == Approx(flops / (number(o, "score_ms_per_step") * 1e-3) * 1e-9).epsilon(1e-9));
    CHECK(number(o, "peak_fraction") == Approx(number(o, "gflops") / number(o, "peak_gflops")).epsilon(1e-9));
    // The score call is part of the step.
    CHECK(number(o, "score_ms_per_step") <= number(o, "ms_per_step"));

    // The log-SNR grid from t = 1 to t_min = 1e-3 in 2 steps: the first score call is at sigma(1),
    // the second at the midpoint of log(sigma/alpha), i.e. sigma = r / sqrt(1 + r^2), r = exp(mid).
    CHECK(o.at("grid").as_string() == "log_snr");
    CHECK(number(o, "sigma_first_step") == Approx(vp_sigma(1.0)).epsilon(1e-12));
    auto log_nsr = [](double t) { return std::log(vp_sigma(t) / std::sqrt(1.0 - vp_sigma(t) * vp_sigma(t))); };
    const double r = std::exp(0.5 * (log_nsr(1.0) + log_nsr(1e-3)));
    CHECK(number(o, "sigma_last_step") == Approx(r / std::sqrt(1.0 + r * r)).epsilon(1e-9));
}

TEST_CASE("bench score at a fixed noise level, and other estimators") {
    SECTION("--sigma fixes every step at that sigma, with queries from the noised data") {
        const auto o = run_json(tiny({"--json", "--sigma", "0.01"}));
        CHECK(o.at("grid").as_string() == "fixed_sigma");
        CHECK(o.at("init").as_string() == "data");
        CHECK(number(o, "sigma_first_step") == Approx(0.01).epsilon(1e-12));
        CHECK(number(o, "sigma_last_step") == Approx(0.01).epsilon(1e-12));
        check_positive_finite(o, "gflops");
    }
    SECTION("drift attends over the data and the model samples: M (N + M) pairs") {
        const auto o = run_json(tiny({"--json", "--estimator", "drift"}));
        CHECK(o.at("estimator").as_string() == "drift");
        const double flops = 4.0 * 4 * 32 * (64 + 32);
        CHECK(number(o, "gflops") == Approx(flops / (number(o, "ms_per_step") * 1e-3) * 1e-9).epsilon(1e-9));
    }
    SECTION("kernel_smoothed takes --bandwidth") {
        const auto o = run_json(tiny({"--json", "--estimator", "kernel_smoothed", "--bandwidth", "0.1"}));
        check_positive_finite(o, "gflops");
    }
    SECTION("--precision f32 runs where the estimator has a precision parameter, else is refused by name") {
        const auto r = run_mdlab(tiny({"--json", "--precision", "f32"}));
        INFO(r.out << r.err);
        if (r.exit_code == 0) {
            const auto o = boost::json::parse(r.out).as_object();
            CHECK(o.at("precision").as_string() == "f32");
        } else {
            CHECK(r.exit_code == 2);
            CHECK(r.err.find("--precision") != std::string::npos);
            CHECK(r.err.find("precision") != std::string::npos);
        }
    }
}

TEST_CASE("bench score's text output states the flop model and what the memory figure is") {
    const auto r = run_mdlab(tiny());
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (const char* says : {"ms", "GFLOP/s", "4 D flops per (query, training point) pair", "exp counted as one",
                             "of peak", "peak RSS", "whole process", "N = 64", "M = 32", "R^4", "f64"}) {
        INFO(says);
        CHECK(r.out.find(says) != std::string::npos);
    }
}

TEST_CASE("bench run --json times a whole run, every step, and groups the steps into bands") {
    const auto o = run_json(tiny_run({"--json"}));
    check_positive_finite(o, "total_seconds");
    check_positive_finite(o, "score_seconds");
    check_positive_finite(o, "ms_per_step_mean");
    CHECK(number(o, "steps") == 10);
    CHECK(number(o, "warmup_steps") == 0);
    CHECK(number(o, "n_train") == 200);
    CHECK(number(o, "n_queries") == 200);
    CHECK(number(o, "dim") == 4);
    CHECK(number(o, "threads") == 1);
    CHECK(number(o, "t_min") == Approx(1e-5));
    CHECK(o.at("estimator").as_string() == "empirical");
    CHECK(o.at("estimator_params").at("spatial_index").as_bool());  // the index is on by default
    CHECK(o.at("estimator_params").at("precision").as_string() == "f64");
    check_kernel_path(o);

    // One entry per step; the steps' times add up to (at most) the run's wall time.
    const auto& step_ms = o.at("step_ms").as_array();
    const auto& sigma = o.at("step_sigma").as_array();
    REQUIRE(step_ms.size() == 10);
    REQUIRE(sigma.size() == 10);
    REQUIRE(o.at("step_score_ms").as_array().size() == 10);
    double sum_ms = 0.0;
    for (const auto& v : step_ms) {
        CHECK(v.to_number<double>() >= 0.0);
        sum_ms += v.to_number<double>();
    }
    CHECK(sum_ms * 1e-3 <= number(o, "total_seconds") * (1.0 + 1e-9));
    CHECK(sigma[0].to_number<double>() == Approx(vp_sigma(1.0)).epsilon(1e-12));
    for (std::size_t i = 1; i < sigma.size(); ++i) CHECK(sigma[i].to_number<double>() < sigma[i - 1].to_number<double>());

    // 8 bands (the default) cover the 10 steps in order, and their shares add up to the whole.
    const auto& bands = o.at("bands").as_array();
    REQUIRE(bands.size() == 8);
    std::int64_t next = 1;
    double share = 0.0;
    for (const auto& b : bands) {
        const auto& band = b.as_object();
        CHECK(number(band, "first_step") == next);
        CHECK(number(band, "last_step") >= number(band, "first_step"));
        next = std::int64_t(number(band, "last_step")) + 1;
        share += number(band, "share");
        CHECK(number(band, "sigma_last") <= number(band, "sigma_first"));
    }
    CHECK(next == 11);
    CHECK(share == Approx(1.0).epsilon(1e-9));
}

TEST_CASE("bench run's text states the run, the kernel path and the profile; options reach the estimator") {
    SECTION("text") {
        const auto r = run_mdlab(tiny_run({"--bands", "3"}));
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        for (const char* says : {"whole run", "kernel path", "CPU", "spatial_index = true", "N = 200", "M = 200", "R^4",
                                 "10 Euler-Maruyama steps", "1e-05", "share", "1-3", "7-10"}) {
            INFO(says << " in\n" << r.out);
            CHECK(r.out.find(says) != std::string::npos);
        }
    }
    SECTION("MDLAB_ISA=generic is the path reported, and named as the choice") {
        const auto r = run_mdlab(tiny_run({"--json", "--steps", "2"}), {"MDLAB_ISA=generic"});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        const auto o = boost::json::parse(r.out).as_object();
        CHECK(o.at("path").as_string() == "generic");
        CHECK(std::string(o.at("path_chosen_by").as_string()).find("MDLAB_ISA=generic") != std::string::npos);
    }
    SECTION("--param spatial_index=false, --t-min, more bands than steps") {
        const auto o = run_json(
            tiny_run({"--json", "--steps", "3", "--param", "spatial_index=false", "--t-min", "1e-3", "--bands", "20"}));
        CHECK_FALSE(o.at("estimator_params").at("spatial_index").as_bool());
        CHECK(number(o, "t_min") == Approx(1e-3));
        CHECK(o.at("step_ms").as_array().size() == 3);
        CHECK(o.at("bands").as_array().size() == 3);
    }
}

TEST_CASE("bench run refuses bad arguments with exit code 2, naming the option") {
    struct Case {
        std::vector<std::string> args;
        std::vector<std::string> says;
    };
    const std::vector<Case> cases = {
        {{"--steps", "0"}, {"--steps"}},
        {{"--bands", "0"}, {"--bands"}},
        {{"--t-min", "2"}, {"--t-min", "must be in (0, T = 1)"}},
        {{"--dim", "1"}, {"--dim", "D >= 2"}},
        {{"--param", "spatial_index=maybe"}, {"--param spatial_index"}},
        {{"--param", "nonsense=1"}, {"--param nonsense"}},
        {{"--estimator", "oracle"}, {"--estimator", "no training points", "bench run times"}},
        {{"--sigma", "0.1"}, {"--sigma"}},  // bench score's option, not bench run's
    };
    for (const auto& c : cases) {
        const auto r = run_mdlab(tiny_run(c.args));
        INFO(c.args[0] << " " << c.args[1] << ":\n" << r.err);
        CHECK(r.exit_code == 2);
        for (const auto& s : c.says) CHECK(r.err.find(s) != std::string::npos);
    }
}

TEST_CASE("bench peak reports the f64 and f32 FMA rates") {
    const auto r = run_mdlab({"bench", "peak", "--json", "--seconds", "0.02", "--threads", "1"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto o = boost::json::parse(r.out).as_object();
    check_positive_finite(o, "peak_gflops_f64");
    check_positive_finite(o, "peak_gflops_f32");
    CHECK(number(o, "threads") == 1);
}

TEST_CASE("bench refuses bad arguments with exit code 2, naming the option") {
    struct Case {
        std::vector<std::string> args;
        std::vector<std::string> says;
    };
    const std::vector<Case> cases = {
        {{"--train", "0"}, {"--train"}},
        {{"--queries", "-3"}, {"--queries"}},
        {{"--steps", "x"}, {"--steps"}},
        {{"--dim", "1"}, {"--dim", "D >= 2"}},
        {{"--precision", "f16"}, {"--precision", "f16"}},
        {{"--estimator", "empiricl"}, {"--estimator", "did you mean 'empirical'"}},
        {{"--estimator", "vp"}, {"--estimator", "not a score estimator"}},
        {{"--estimator", "oracle"}, {"--estimator", "no training points"}},
        {{"--sigma", "2"}, {"--sigma", "not reached"}},
        {{"--sigma", "0"}, {"--sigma"}},
        {{"--t-min", "0"}, {"--t-min"}},
        {{"--bandwidth", "0.1"}, {"--bandwidth", "no parameter 'bandwidth'"}},
        {{"--estimator", "kernel_smoothed", "--bandwidth", "-1"}, {"--bandwidth"}},
        {{"--param", "nonsense=1"}, {"--param nonsense"}},
        {{"--param", "novalue"}, {"--param", "key=value"}},
        {{"--init", "elsewhere"}, {"--init"}},
        {{"--peak-seconds", "0"}, {"--peak-seconds"}},
    };
    for (const auto& c : cases) {
        const auto r = run_mdlab(tiny(c.args));
        INFO(c.args[0] << " " << c.args[1] << ":\n" << r.err);
        CHECK(r.exit_code == 2);
        for (const auto& s : c.says) CHECK(r.err.find(s) != std::string::npos);
    }
    const auto p = run_mdlab({"bench", "peak", "--threads", "0"});
    CHECK(p.exit_code == 2);
    CHECK(p.err.find("--threads") != std::string::npos);
    const auto none = run_mdlab({"bench"});
    CHECK(none.exit_code == 2);
}
