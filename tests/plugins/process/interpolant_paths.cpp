// The interpolant paths flow_matching and interpolant (linear, trigonometric) against the closed
// forms of SCIENCE.md section 6, their derivatives against finite differences, and f, g^2 against
// section 1's identities (f = (d log alpha/dt) x, g^2 = d(sigma^2)/dt - 2 (d log alpha/dt) sigma^2).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <mdlab/mdlab.hpp>

#include "error_key.hpp"
#include "mdlab_test.hpp"
#include "process_checks.hpp"

namespace {

constexpr double kPi = 3.14159265358979323846;

struct PathCase {
    std::string name, json;
    double t_end;
    std::function<double(double)> alpha, sigma, g2;  // plain closed forms
};

std::vector<PathCase> path_cases() {
    auto lin_a = [](double t) { return 1.0 - t; };
    auto lin_s = [](double t) { return t; };
    auto lin_g2 = [](double t) { return 2.0 * t / (1.0 - t); };
    auto trig_a = [](double t) { return std::cos(kPi * t / 2.0); };
    auto trig_s = [](double t) { return std::sin(kPi * t / 2.0); };
    auto trig_g2 = [](double t) { return kPi * std::tan(kPi * t / 2.0); };
    return {{"flow_matching", "{}", 0.99, lin_a, lin_s, lin_g2},
            {"flow_matching", R"({"t_end": 0.9})", 0.9, lin_a, lin_s, lin_g2},
            {"interpolant", "{}", 0.99, lin_a, lin_s, lin_g2},
            {"interpolant", R"({"schedule": "linear", "t_end": 0.999})", 0.999, lin_a, lin_s, lin_g2},
            {"interpolant", R"({"schedule": "trigonometric"})", 0.99, trig_a, trig_s, trig_g2},
            {"interpolant", R"({"schedule": "trigonometric", "t_end": 0.5})", 0.5, trig_a, trig_s, trig_g2}};
}

// The given schedule's JSON: knots t_i = i / (n - 1) * t_last with alpha, sigma from the functions.
std::string given_json(std::size_t n, double t_last, const std::function<double(double)>& alpha,
                       const std::function<double(double)>& sigma, const std::string& extra = "") {
    std::string t = "[", a = "[", s = "[";
    for (std::size_t i = 0; i < n; ++i) {
        const double ti = t_last * double(i) / double(n - 1);
        const char* sep = i + 1 < n ? ", " : "]";
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g%s", ti, sep), t += buf;
        std::snprintf(buf, sizeof buf, "%.17g%s", alpha(ti), sep), a += buf;
        std::snprintf(buf, sizeof buf, "%.17g%s", sigma(ti), sep), s += buf;
    }
    return R"({"schedule": "given", "given_times": )" + t + R"(, "given_alpha": )" + a + R"(, "given_sigma": )" + s + extra + "}";
}

}  // namespace

TEST_CASE("interpolant paths: alpha, sigma, g^2 and the prior match the closed forms", "[process][interpolant_paths]") {
    for (const PathCase& c : path_cases()) {
        auto p = process(c.name, c.json);
        INFO(c.name << " " << c.json);
        CHECK(p->t_end() == c.t_end);
        CHECK(p->alpha(0.0) == 1.0);
        CHECK(p->sigma(0.0) == 0.0);
        CHECK(rel_close(p->prior_std(), std::hypot(c.alpha(c.t_end), c.sigma(c.t_end)), 1e-14));
        for (double f : {1e-6, 1e-3, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0}) {
            const double t = f * c.t_end;
            INFO("t = " << t);
            // cos(pi t / 2) near t = 1 loses ~1e-16 / alpha to the rounding of pi t / 2.
            CHECK(rel_close(p->alpha(t), c.alpha(t), 1e-14 + 4e-16 / c.alpha(t)));
            CHECK(rel_close(p->sigma(t), c.sigma(t), 1e-14));
            CHECK(rel_close(p->g2(t), c.g2(t), 1e-13));
            // time_at_noise_ratio inverts sigma / alpha.
            CHECK(rel_close(p->time_at_noise_ratio(p->sigma(t) / p->alpha(t)), t, 1e-13));
        }
    }
}

TEST_CASE("interpolant paths: derivatives match finite differences, drift rate is d log alpha/dt",
          "[process][interpolant_paths]") {
    for (const PathCase& c : path_cases()) {
        auto p = process(c.name, c.json);
        for (double f : {0.01, 0.1, 0.3, 0.5, 0.9, 0.99, 1.0}) {
            const double t = f * c.t_end;
            INFO(c.name << " " << c.json << " t = " << t);
            const double h = 1e-5 * std::min(t, 1.0 - t);
            const double fd_log_alpha = central([&](double u) { return std::log(c.alpha(u)); }, t, h);
            const double fd_sigma = central([&](double u) { return c.sigma(u); }, t, h);
            const double fd_sigma2 = central([&](double u) { return c.sigma(u) * c.sigma(u); }, t, h);
            CHECK(rel_close(p->dlog_alpha_dt(t), fd_log_alpha, 1e-6));
            CHECK(rel_close(p->drift_rate(t), fd_log_alpha, 1e-6));
            CHECK(rel_close(p->dsigma_dt(t), fd_sigma, 1e-6));
            // Section 1's g^2 from finite differences of the closed forms equals the plugin's.
            const double s = c.sigma(t);
            CHECK(rel_close(p->g2(t), fd_sigma2 - 2.0 * fd_log_alpha * s * s, 1e-6));
        }
    }
}

TEST_CASE("interpolant paths: flow_matching is the linear interpolant, the trigonometric one is cosine with s = 0",
          "[process][interpolant_paths]") {
    auto fm = process("flow_matching", R"({"t_end": 0.95})");
    auto lin = process("interpolant", R"({"schedule": "linear", "t_end": 0.95})");
    auto trig = process("interpolant", R"({"schedule": "trigonometric", "t_end": 0.95})");
    auto cos0 = process("cosine", R"({"s": 0, "t_end": 0.95})");
    for (double t : {1e-9, 1e-4, 0.1, 0.5, 0.8, 0.95}) {
        INFO("t = " << t);
        CHECK(fm->alpha(t) == lin->alpha(t));
        CHECK(fm->sigma(t) == lin->sigma(t));
        CHECK(fm->dlog_alpha_dt(t) == lin->dlog_alpha_dt(t));
        CHECK(fm->dsigma_dt(t) == lin->dsigma_dt(t));
        CHECK(rel_close(trig->alpha(t), cos0->alpha(t), 1e-14));
        CHECK(rel_close(trig->sigma(t), cos0->sigma(t), 1e-14));
        // cosine evaluates d log alpha/dt as -k / tan(k (1 - t)) at every t: near t = 0 its argument
        // is within k t of pi/2 and it loses ~1e-16 / t relative; the trigonometric path does not.
        const double cosine_rounding = 1e-13 + 1e-15 / t;
        CHECK(rel_close(trig->dlog_alpha_dt(t), cos0->dlog_alpha_dt(t), cosine_rounding));
        CHECK(rel_close(trig->dsigma_dt(t), cos0->dsigma_dt(t), cosine_rounding));
        CHECK(rel_close(trig->g2(t), cos0->g2(t), cosine_rounding));
        CHECK(rel_close(trig->dlog_alpha_dt(t), -kPi / 2 * std::tan(kPi * t / 2), 1e-14));
        CHECK(rel_close(trig->dsigma_dt(t), kPi / 2 * std::cos(kPi * t / 2), 1e-14));
    }
    // The trigonometric path is variance preserving: alpha^2 + sigma^2 = 1, prior N(0, I).
    for (double t : {0.01, 0.5, 0.95}) CHECK(rel_close(trig->alpha(t) * trig->alpha(t) + trig->sigma(t) * trig->sigma(t), 1.0, 1e-15));
    CHECK(rel_close(trig->prior_std(), 1.0, 1e-15));
    // Linear path at the default T = 0.99: alpha/sigma = 1/99, prior sqrt(0.01^2 + 0.99^2).
    auto def = process("flow_matching");
    CHECK(def->t_end() == 0.99);
    CHECK(rel_close(def->prior_std(), std::sqrt(0.0001 + 0.9801), 1e-14));
}

TEST_CASE("interpolant paths: perturb has mean alpha x0 and variance sigma^2", "[process][interpolant_paths]") {
    for (const char* json : {R"({"schedule": "linear"})", R"({"schedule": "trigonometric"})"}) {
        INFO(json);
        auto p = process("interpolant", json);
        for (double t : {0.05, 0.5, 0.99}) check_perturb(*p, t);
    }
}

TEST_CASE("interpolant paths: the given schedule reproduces linear knots exactly and trigonometric ones closely",
          "[process][interpolant_paths]") {
    // A natural cubic spline reproduces linear data: the given path through 6 knots of the linear
    // schedule is flow_matching (uneven spacing: 0.2 apart, the last at 0.99).
    auto lin = process("interpolant", given_json(6, 0.99, [](double t) { return 1.0 - t; }, [](double t) { return t; }));
    auto fm = process("flow_matching");
    for (double t : {1e-6, 0.01, 0.3, 0.5, 0.77, 0.99}) {
        INFO("t = " << t);
        CHECK(rel_close(lin->alpha(t), fm->alpha(t), 1e-13));
        // The spline's rounding is absolute (~1e-16), not relative to sigma near t = 0.
        CHECK(std::abs(lin->sigma(t) - fm->sigma(t)) <= 1e-13 * t + 1e-16);
        CHECK(rel_close(lin->dlog_alpha_dt(t), fm->dlog_alpha_dt(t), 1e-12));
        CHECK(rel_close(lin->dsigma_dt(t), fm->dsigma_dt(t), 1e-13));
        CHECK(rel_close(lin->g2(t), fm->g2(t), 1e-12));
        CHECK(std::abs(lin->time_at_noise_ratio(t / (1.0 - t)) - t) <= 1e-12 * t + 1e-16);
    }
    // 41 knots of the trigonometric schedule on [0, 0.99]: the spline's error is O(h^2) near the ends
    // (the natural end condition) and O(h^4) inside; the derivatives are the spline's own.
    auto trig_a = [](double t) { return std::cos(kPi * t / 2.0); };
    auto trig_s = [](double t) { return std::sin(kPi * t / 2.0); };
    auto given = process("interpolant", given_json(41, 0.99, trig_a, trig_s));
    auto trig = process("interpolant", R"({"schedule": "trigonometric"})");
    CHECK(given->t_end() == 0.99);
    for (double t : {0.0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98, 0.99}) {
        INFO("t = " << t);
        CHECK(std::abs(given->alpha(t) - trig->alpha(t)) < 2e-4);
        CHECK(std::abs(given->sigma(t) - trig->sigma(t)) < 2e-4);
        if (t > 0.0 && t < 0.99) {
            const double h = 1e-6;
            CHECK(rel_close(given->dsigma_dt(t), central([&](double u) { return given->sigma(u); }, t, h), 1e-7));
            CHECK(rel_close(given->dlog_alpha_dt(t), central([&](double u) { return std::log(given->alpha(u)); }, t, h), 1e-7));
            CHECK(std::abs(given->dsigma_dt(t) - trig->dsigma_dt(t)) < 2e-2);
            const double s = given->sigma(t);
            CHECK(rel_close(given->g2(t), 2.0 * s * given->dsigma_dt(t) - 2.0 * given->dlog_alpha_dt(t) * s * s, 1e-14));
        }
        if (t > 0.0) CHECK(rel_close(given->time_at_noise_ratio(given->sigma(t) / given->alpha(t)), t, 1e-12));
    }
    CHECK(given->alpha(0.0) == 1.0);
    CHECK(given->sigma(0.0) == 0.0);
}

TEST_CASE("interpolant paths: parameter checks", "[process][interpolant_paths]") {
    auto key_of = [](const std::string& name, const std::string& json) {
        return mdlab::test::error_key([&] { process(name, json); });
    };
    CHECK(key_of("flow_matching", R"({"t_end": 1.0})") == "t_end");
    CHECK(key_of("interpolant", R"({"t_end": 1.2})") == "t_end");
    CHECK(key_of("interpolant", R"({"schedule": "trigonometric", "t_end": 1.0})") == "t_end");
    CHECK(key_of("flow_matching", R"({"t_end": 0.999999})") == "<none>");
    CHECK(key_of("interpolant", R"({"schedule": "cubic"})") == "schedule");
    CHECK_THROWS(process("flow_matching", R"({"t_end": 0})"));
    // The given schedule: lists of equal length >= 3, from t = 0 (alpha 1, sigma 0), times increasing,
    // alpha > 0, sigma/alpha increasing, the last knot at or beyond t_end.
    auto given = [&](const std::string& t, const std::string& a, const std::string& s, const std::string& extra = "") {
        return key_of("interpolant", R"({"schedule": "given", "given_times": )" + t + R"(, "given_alpha": )" + a +
                                         R"(, "given_sigma": )" + s + extra + "}");
    };
    CHECK(given("[0, 0.5, 1]", "[1, 0.5, 0.1]", "[0, 0.5, 1]") == "<none>");
    CHECK(given("[0, 0.5, 1]", "[1, 0.5, 0.1]", "[0, 0.5, 1]", R"(, "t_end": 1.0)") == "<none>");
    CHECK(given("[0, 0.5, 0.9]", "[1, 0.5, 0.1]", "[0, 0.5, 1]") == "given_times");  // ends before t_end = 0.99
    CHECK(given("[0, 1]", "[1, 0.1]", "[0, 1]") == "given_times");
    CHECK(given("[0.1, 0.5, 1]", "[1, 0.5, 0.1]", "[0, 0.5, 1]") == "given_times");
    CHECK(given("[0, 0.5, 0.5]", "[1, 0.5, 0.1]", "[0, 0.5, 1]") == "given_times");
    CHECK(given("[0, 0.5, 1]", "[1, 0.5]", "[0, 0.5, 1]") == "given_alpha");
    CHECK(given("[0, 0.5, 1]", "[0.9, 0.5, 0.1]", "[0, 0.5, 1]") == "given_alpha");
    CHECK(given("[0, 0.5, 1]", "[1, 0.5, 0]", "[0, 0.5, 1]") == "given_alpha");
    CHECK(given("[0, 0.5, 1]", "[1, 0.5, 0.1]", "[0, 0.5]") == "given_sigma");
    CHECK(given("[0, 0.5, 1]", "[1, 0.5, 0.1]", "[0.1, 0.5, 1]") == "given_sigma");
    CHECK(given("[0, 0.5, 1]", "[1, 0.5, 0.5]", "[0, 0.5, 0.4]") == "given_sigma");
    CHECK(key_of("interpolant", R"({"schedule": "given"})") == "given_times");
}
