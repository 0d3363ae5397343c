// The time grids shared by all samplers, against their defining formulas.
#include <catch2/catch.hpp>

#include <cmath>

#include "mdlab_test.hpp"

using mdlab::ForwardProcess;

namespace {

double nsr(const ForwardProcess& p, double t) { return p.sigma(t) / p.alpha(t); }

}  // namespace

TEST_CASE("every grid runs from T down to t_min, strictly decreasing") {
    for (const char* process : {"vp", "ve"})
        for (const char* grid : {"uniform", "log_snr", "karras"}) {
            INFO(process << " " << grid);
            auto p = mdlab::test::make<ForwardProcess>(process);
            const auto t = mdlab::time_grid(*p, grid, 37, 1e-3);
            REQUIRE(t.size() == 38);
            CHECK(t.front() == p->t_end());
            CHECK(t.back() == 1e-3);
            for (std::size_t i = 1; i < t.size(); ++i) CHECK(t[i] < t[i - 1]);
        }
}

TEST_CASE("uniform grid: equal steps in t") {
    auto p = mdlab::test::make<ForwardProcess>("vp");
    const auto t = mdlab::time_grid(*p, "uniform", 10, 0.01);
    for (std::size_t i = 0; i <= 10; ++i) CHECK(t[i] == Approx(1.0 + (0.01 - 1.0) * double(i) / 10.0).epsilon(1e-15));
}

TEST_CASE("log_snr grid: equal steps in log(alpha^2 / sigma^2)") {
    auto p = mdlab::test::make<ForwardProcess>("vp");
    const auto t = mdlab::time_grid(*p, "log_snr", 20, 1e-4);
    const double step = std::log(nsr(*p, t[1])) - std::log(nsr(*p, t[0]));
    for (std::size_t i = 1; i <= 20; ++i)
        CHECK(std::log(nsr(*p, t[i])) - std::log(nsr(*p, t[i - 1])) == Approx(step).epsilon(1e-9));
}

TEST_CASE("karras grid: sigma_i = (smax^(1/rho) + i/(n-1) (smin^(1/rho) - smax^(1/rho)))^rho") {
    // With VE, sigma/alpha is sigma itself: the grid is Karras et al.'s sigma schedule.
    auto p = mdlab::test::make<ForwardProcess>("ve");
    const double t_min = 1e-3, rho = 7.0;
    const std::size_t steps = 18;
    const auto t = mdlab::time_grid(*p, "karras", steps, t_min, rho);
    const double smax = p->sigma(p->t_end()), smin = p->sigma(t_min);
    for (std::size_t i = 0; i <= steps; ++i) {
        const double expected = std::pow(std::pow(smax, 1 / rho) + double(i) / double(steps) *
                                                                   (std::pow(smin, 1 / rho) - std::pow(smax, 1 / rho)),
                                         rho);
        INFO("i = " << i);
        CHECK(p->sigma(t[i]) == Approx(expected).epsilon(1e-12));
    }
    // rho = 1 makes the grid uniform in sigma.
    const auto lin = mdlab::time_grid(*p, "karras", 4, t_min, 1.0);
    CHECK(p->sigma(lin[1]) - p->sigma(lin[2]) == Approx(p->sigma(lin[2]) - p->sigma(lin[3])).epsilon(1e-10));
}

TEST_CASE("an unknown grid is an input error naming the key") {
    auto p = mdlab::test::make<ForwardProcess>("vp");
    try {
        mdlab::time_grid(*p, "cosine", 10, 1e-3);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "grid");
    }
}
