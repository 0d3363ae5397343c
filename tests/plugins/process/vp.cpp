// The `vp` process against the closed forms of SCIENCE.md section 1.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "process_checks.hpp"

// ---------------------------------------------------------------------------------------- VP

TEST_CASE("vp: alpha and sigma match the closed forms", "[process][vp]") {
    auto p = process("vp");
    const VpRef ref{0.1, 20.0};
    CHECK(p->t_end() == 1.0);
    CHECK(p->alpha(0.0) == 1.0);
    CHECK(p->sigma(0.0) == 0.0);
    for (double t : times) {
        INFO("t = " << t);
        CHECK(rel_close(p->alpha(t), ref.alpha(t), 1e-14));
        // The reference 1 - exp(-B) cancels at small t: tolerance from its own rounding error.
        CHECK(rel_close(p->sigma(t), ref.sigma(t), 1e-15 / ref.B(t) + 1e-14));
        CHECK(rel_close(p->alpha(t) * p->alpha(t) + p->sigma(t) * p->sigma(t), 1.0, 1e-14));
    }
    // Hand-computed values at the defaults: B(1) = 0.1 + 19.9 / 2 = 10.05.
    CHECK(rel_close(p->alpha(1.0), std::exp(-5.025), 1e-14));
    CHECK(rel_close(p->sigma(1.0), std::sqrt(1.0 - std::exp(-10.05)), 1e-14));
    CHECK(rel_close(p->alpha(0.5), std::exp(-0.5 * (0.05 + 19.9 / 8.0)), 1e-14));

    auto q = process("vp", R"({"beta_min": 0.5, "beta_max": 4.0, "t_end": 2.0})");
    const VpRef rq{0.5, 4.0};
    CHECK(q->t_end() == 2.0);
    for (double t : {0.1, 1.0, 1.5, 2.0}) {
        CHECK(rel_close(q->alpha(t), rq.alpha(t), 1e-14));
        CHECK(rel_close(q->sigma(t), rq.sigma(t), 1e-13));
    }
    // A constant schedule (beta_min = beta_max) is the OU process with theta = beta / 2.
    auto ou = process("vp", R"({"beta_min": 2.0, "beta_max": 2.0})");
    for (double t : {0.1, 0.7}) {
        CHECK(rel_close(ou->alpha(t), std::exp(-t), 1e-14));
        CHECK(rel_close(ou->sigma(t), std::sqrt(1.0 - std::exp(-2.0 * t)), 1e-13));
    }
}

TEST_CASE("vp: sigma is accurate at tiny t", "[process][vp]") {
    auto p = process("vp");
    for (double t : {1e-8, 1e-10, 1e-12}) {
        const double B = 0.1 * t + 0.5 * 19.9 * t * t;
        // 1 - exp(-B) = B - B^2/2 + B^3/6 - ...; the truncation is ~B^4/24, far below 1e-16 B.
        const double series = std::sqrt(B - B * B / 2.0 + B * B * B / 6.0);
        INFO("t = " << t << ": sigma " << p->sigma(t) << ", series " << series);
        CHECK(rel_close(p->sigma(t), series, 1e-14));
        // dsigma/dt = beta exp(-B) / (2 sigma) ~ sqrt(beta_min / (4 t)) at tiny t.
        const double beta = 0.1 + 19.9 * t;
        CHECK(rel_close(p->dsigma_dt(t), beta * std::exp(-B) / (2.0 * series), 1e-13));
    }
    CHECK(std::isinf(p->dsigma_dt(0.0)));
}

TEST_CASE("vp: derivatives match finite differences and g^2 = beta", "[process][vp]") {
    for (const std::string& json : {std::string("{}"), std::string(R"({"beta_min": 0.5, "beta_max": 4.0})")}) {
        auto p = process("vp", json);
        const bool defaults = json == "{}";
        const VpRef ref{defaults ? 0.1 : 0.5, defaults ? 20.0 : 4.0};
        for (double t : {0.01, 0.1, 0.3, 0.5, 0.9, 0.99}) {
            INFO(json << " t = " << t);
            const double h = 1e-5 * t;
            const double fd_log_alpha = central([&](double u) { return std::log(p->alpha(u)); }, t, h);
            const double fd_sigma = central([&](double u) { return p->sigma(u); }, t, h);
            const double fd_sigma2 = central([&](double u) { return p->sigma(u) * p->sigma(u); }, t, h);
            CHECK(rel_close(p->dlog_alpha_dt(t), fd_log_alpha, 1e-7));
            CHECK(rel_close(p->dsigma_dt(t), fd_sigma, 1e-6));
            CHECK(rel_close(p->dsigma_dt(t), ref.beta(t) * std::exp(-ref.B(t)) / (2.0 * ref.sigma(t)), 1e-12));
            CHECK(rel_close(p->dlog_alpha_dt(t), -0.5 * ref.beta(t), 1e-14));
            // SCIENCE.md: g^2 = d(sigma^2)/dt - 2 (d log alpha/dt) sigma^2 = beta(t) for VP.
            CHECK(rel_close(p->g2(t), ref.beta(t), 1e-13));
            CHECK(rel_close(fd_sigma2 - 2.0 * fd_log_alpha * p->sigma(t) * p->sigma(t), ref.beta(t), 1e-6));
            CHECK(rel_close(p->drift_rate(t), -0.5 * ref.beta(t), 1e-14));
        }
    }
}

TEST_CASE("vp: prior and parameter checks", "[process][vp]") {
    CHECK(process("vp")->prior_std() == 1.0);
    CHECK_THROWS_WITH(process("vp", R"({"beta_min": 5.0, "beta_max": 1.0})"), Catch::Contains("beta_max"));
    try {
        process("vp", R"({"beta_min": 5.0, "beta_max": 1.0})");
        FAIL("beta_max < beta_min was accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "beta_max");
    } catch (const std::exception& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("beta_max"));
    }
    CHECK_THROWS(process("vp", R"({"t_end": 0})"));
    CHECK_THROWS(process("vp", R"({"beta_min": -1})"));
    CHECK_NOTHROW(process("vp", R"({"beta_min": 3.0, "beta_max": 3.0})"));
}

TEST_CASE("vp: perturb has mean alpha x0 and variance sigma^2", "[process][vp]") {
    auto p = process("vp");
    for (double t : {0.05, 0.3, 1.0}) check_perturb(*p, t);
}
