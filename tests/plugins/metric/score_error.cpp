// The score_error metric against closed forms on Gaussian data.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "csv.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "score_metric_checks.hpp"

TEST_CASE("score_error: exact score gives 0; (1 + eps) s gives eps^2 E lambda |s|^2 and relative eps^2", "[score_error]") {
    const auto t0 = std::chrono::steady_clock::now();
    Setup s;
    const std::size_t n = 3000, m = 6;
    const std::string params = R"({"n": 3000, "times": 6, "spacing": "uniform", "t_min": 0.05})";
    {
        const Run r = run_metric("score_error", params, s.exact, s.exact, s);
        CHECK(value(r.values, "l2") == 0.0);
        CHECK(value(r.values, "relative") == 0.0);
    }
    const double eps = 0.3;
    const Run r = run_metric("score_error", params, std::make_shared<ScaledScore>(s.proc, s.d, std::sqrt(s.v), eps), s.exact, s);
    REQUIRE(r.curve.size() == m);
    // The uniform grid from t_min to T, and the closed form E|s|^2 = D / V(t) per time.
    double closed = 0.0, var = 0.0, ref = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
        const double t = 0.05 + (1.0 - 0.05) * double(i) / double(m - 1);
        CHECK(num(r.curve[i], "t") == Approx(t).epsilon(1e-12));
        const double sig = s.proc->sigma(t), lam = sig * sig, V = s.V(t);
        CHECK(num(r.curve[i], "lambda") == Approx(lam).epsilon(1e-12));
        closed += lam * eps * eps * double(s.d) / V;
        ref += lam * double(s.d) / V;
        // Per draw eps^2 |x|^2 / V^2 with |x|^2 ~ V chi^2_D: variance eps^4 2 D / V^2.
        var += lam * lam * std::pow(eps, 4) * 2.0 * double(s.d) / (V * V) / double(n);
        CHECK(num(r.curve[i], "relative") == Approx(eps * eps).epsilon(1e-12));
    }
    closed /= double(m);
    ref /= double(m);
    const double se = std::sqrt(var) / double(m);
    INFO("l2 " << value(r.values, "l2") << " closed form " << closed << " SE " << se << " reported SE "
               << value(r.values, "l2_stderr"));
    CHECK(std::abs(value(r.values, "l2") - closed) <= 4.5 * se);
    CHECK(value(r.values, "l2_stderr") == Approx(se).epsilon(0.15));
    CHECK(value(r.values, "relative") == Approx(eps * eps).epsilon(1e-12));
    CHECK(std::abs(value(r.values, "reference") - ref) <= 4.5 * se / (eps * eps));
    WARN("score_error closed form: l2 " << value(r.values, "l2") << " vs " << closed << " (SE " << se << "), "
                                        << mdlab::test::seconds_since(t0) << " s");
}

TEST_CASE("score_error: the log_snr grid is equispaced in log(alpha^2 / sigma^2)", "[score_error]") {
    Setup s;
    const Run r = run_metric("score_error", R"({"n": 10, "times": 5, "t_min": 0.02, "t_max": 0.8})", s.exact, s.exact, s);
    REQUIRE(r.curve.size() == 5);
    std::vector<double> snr;
    for (const auto& row : r.curve) {
        const double a = num(row, "alpha"), sg = num(row, "sigma");
        snr.push_back(std::log(a * a / (sg * sg)));
    }
    CHECK(num(r.curve.front(), "t") == 0.02);
    CHECK(num(r.curve.back(), "t") == 0.8);
    for (std::size_t i = 1; i < snr.size(); ++i)
        CHECK(snr[i] - snr[i - 1] == Approx((snr.back() - snr.front()) / 4.0).epsilon(1e-9));
}
