// The `ve` process against the closed forms of SCIENCE.md section 1.
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

// ---------------------------------------------------------------------------------------- VE

TEST_CASE("ve: alpha and sigma match the closed forms", "[process][ve]") {
    auto p = process("ve");
    CHECK(p->t_end() == 1.0);
    CHECK(rel_close(p->sigma(0.0), 0.01, 1e-15));
    CHECK(rel_close(p->sigma(1.0), 50.0, 1e-14));
    CHECK(rel_close(p->sigma(0.5), std::sqrt(0.01 * 50.0), 1e-14));  // geometric mean
    for (double t : times) {
        INFO("t = " << t);
        CHECK(p->alpha(t) == 1.0);
        CHECK(p->dlog_alpha_dt(t) == 0.0);
        CHECK(rel_close(p->sigma(t), 0.01 * std::pow(5000.0, t), 1e-13));
    }
    auto q = process("ve", R"({"sigma_min": 0.002, "sigma_max": 80, "t_end": 0.5})");
    CHECK(q->t_end() == 0.5);
    for (double t : {0.0, 0.2, 0.5}) CHECK(rel_close(q->sigma(t), 0.002 * std::pow(40000.0, t), 1e-13));
}

TEST_CASE("ve: derivatives match finite differences and g^2 = d(sigma^2)/dt", "[process][ve]") {
    auto p = process("ve");
    const double L = std::log(5000.0);
    for (double t : {0.0, 0.01, 0.2, 0.5, 0.8, 1.0}) {
        INFO("t = " << t);
        const double h = 1e-5;
        const double fd_sigma = central([&](double u) { return p->sigma(u); }, t, h);
        const double fd_sigma2 = central([&](double u) { return p->sigma(u) * p->sigma(u); }, t, h);
        const double s = p->sigma(t);
        CHECK(rel_close(p->dsigma_dt(t), fd_sigma, 1e-8));
        CHECK(rel_close(p->dsigma_dt(t), s * L, 1e-14));
        // SCIENCE.md: g^2 = d(sigma^2)/dt = 2 sigma^2 log(sigma_max / sigma_min) for VE.
        CHECK(rel_close(p->g2(t), fd_sigma2, 1e-8));
        CHECK(rel_close(p->g2(t), 2.0 * s * s * L, 1e-13));
        CHECK(p->drift_rate(t) == 0.0);
    }
}

TEST_CASE("ve: prior and parameter checks", "[process][ve]") {
    CHECK(rel_close(process("ve")->prior_std(), 50.0, 1e-14));
    CHECK(rel_close(process("ve", R"({"t_end": 0.5})")->prior_std(), std::sqrt(0.01 * 50.0), 1e-14));
    CHECK_THROWS_WITH(process("ve", R"({"sigma_min": 1.0, "sigma_max": 1.0})"), Catch::Contains("sigma_max"));
    try {
        process("ve", R"({"sigma_min": 2.0, "sigma_max": 1.0})");
        FAIL("sigma_max < sigma_min was accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "sigma_max");
    } catch (const std::exception& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("sigma_max"));
    }
    CHECK_THROWS(process("ve", R"({"sigma_min": 0})"));
}

TEST_CASE("ve: perturb has mean x0 and variance sigma^2", "[process][ve]") {
    auto p = process("ve");
    for (double t : {0.0, 0.4, 1.0}) check_perturb(*p, t);
}
