// ForwardProcess::time_at_noise_ratio, the inverse of sigma(t)/alpha(t) that maps a given grid's
// sigmas to times: each built-in process's closed form against its own ratio and against the
// interface's default bisection, and the default on a process that does not override it.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"

namespace {

struct Setting {
    std::string name, json;
};

// Times from 1e-6 T to T, denser near 0 where the closed forms could cancel.
std::vector<double> probe_times(double T) {
    std::vector<double> t;
    for (double f = 1e-6; f < 1.0; f *= 3.0) t.push_back(f * T);
    for (double f : {0.25, 0.5, 0.75, 0.9, 0.999}) t.push_back(f * T);
    t.push_back(T);
    return t;
}

// How far t may be from the inverse of the rounded ratio r(t): a few ulps of t, times the
// condition number r / (t dr/dt) of the inverse, large where the ratio is flat (ve near t = 0,
// where r ~ sigma_min (1 + t log(sigma_max/sigma_min))).
double tolerance(const mdlab::ForwardProcess& p, double t) {
    const double r = p.sigma(t) / p.alpha(t);
    const double dr = (p.dsigma_dt(t) - p.sigma(t) * p.dlog_alpha_dt(t)) / p.alpha(t);
    const double condition = std::isfinite(dr) && dr > 0.0 ? r / (t * dr) : 1.0;
    return 8.0 * std::numeric_limits<double>::epsilon() * (1.0 + condition) * t;
}

}  // namespace

TEST_CASE("each built-in process inverts sigma/alpha in closed form, to rounding") {
    const std::vector<Setting> settings{
        {"vp", "{}"},
        {"vp", R"({"beta_min": 0.0, "beta_max": 12.0, "t_end": 0.8})"},
        {"vp", R"({"beta_min": 3.0, "beta_max": 3.0})"},
        {"subvp", "{}"},
        {"ve", "{}"},
        {"ve", R"({"sigma_min": 0.002, "sigma_max": 80.0, "t_end": 1.5})"},
        {"edm", "{}"},
        {"ou", R"({"theta": 2.5})"},
        {"cosine", "{}"},
        {"cosine", R"({"s": 0.0, "t_end": 0.99})"},
    };
    for (const auto& s : settings) {
        const auto p = mdlab::test::make<mdlab::ForwardProcess>(s.name, s.json);
        for (double t : probe_times(p->t_end())) {
            const double r = p->sigma(t) / p->alpha(t);
            const double closed = p->time_at_noise_ratio(r);
            const double bisected = p->mdlab::ForwardProcess::time_at_noise_ratio(r);
            INFO(s.name << " " << s.json << ": t = " << t << ", r = " << r << ", closed form " << closed
                        << ", bisection " << bisected);
            CHECK(std::abs(closed - t) <= tolerance(*p, t));
            CHECK(std::abs(closed - bisected) <= tolerance(*p, t));
        }
    }
}

namespace {

// alpha = 1/(1 + t), sigma = t: ratio t (1 + t), inverse (sqrt(1 + 4r) - 1)/2. Does not override
// time_at_noise_ratio, as an out-of-tree process written before it.
class Plain : public mdlab::ForwardProcess {
public:
    double t_end() const override { return 2.0; }
    double alpha(double t) const override { return 1.0 / (1.0 + t); }
    double sigma(double t) const override { return t; }
    double dlog_alpha_dt(double t) const override { return -1.0 / (1.0 + t); }
    double dsigma_dt(double) const override { return 1.0; }
};

}  // namespace

TEST_CASE("a process without a closed form inverts sigma/alpha by bisection, to rounding") {
    const Plain p;
    for (double t : probe_times(p.t_end())) {
        const double r = t * (1.0 + t);
        const double exact = 2.0 * r / (1.0 + std::sqrt(1.0 + 4.0 * r));  // (sqrt(1 + 4r) - 1)/2 without cancellation
        INFO("t = " << t << ", r = " << r);
        CHECK(std::abs(p.time_at_noise_ratio(r) - exact) <= tolerance(p, t));
    }
}
