// The score_error and gradient_error metrics together: thread independence and refusals.
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

TEST_CASE("score metrics are bit-identical for 1 and 2 threads", "[score_error][gradient_error]") {
    Setup s;
    auto rotated = std::make_shared<RotatedScore>(s.proc, s.d, std::sqrt(s.v), 0.4);
    struct Case {
        const char* metric;
        const char* params;
    };
    const Case cases[] = {{"score_error", R"({"n": 3000, "times": 3})"},
                          {"gradient_error", R"({"n": 3000, "times": 3, "form": "both"})"},
                          {"gradient_error", R"({"n": 3000, "times": 3, "form": "both", "family": "polynomial"})"}};
    for (const auto& c : cases) {
        INFO(c.metric << " " << c.params);
        Run one, two;
        {
            tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
            one = run_metric(c.metric, c.params, rotated, s.exact, s);
        }
        {
            tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
            two = run_metric(c.metric, c.params, rotated, s.exact, s);
        }
        CHECK(one.values == two.values);
        CHECK(one.curve_text == two.curve_text);
        CHECK(one.curve.size() == 3);
        // Another seed gives other draws.
        CHECK(run_metric(c.metric, c.params, rotated, s.exact, s, 8).values != one.values);
    }
}

TEST_CASE("score metrics reject bad parameters and wiring, naming the key", "[score_error][gradient_error]") {
    for (const char* m : {"score_error", "gradient_error"}) {
        INFO(m);
        CHECK(bad_param_key(m, R"({"times": 0})") == "times");
        CHECK(bad_param_key(m, R"({"n": 1})") == "n");
        CHECK(bad_param_key(m, R"({"t_min": 0})") == "t_min");
        CHECK(bad_param_key(m, R"({"spacing": "karras"})") == "spacing");
        CHECK(bad_param_key(m, R"({"t_min": 0.5, "t_max": 0.2})") == "t_max");
        CHECK(bad_param_key(m, R"({"t_min": 0.5, "t_max": 0.2, "times": 1})") == "(accepted)");
    }
    CHECK(bad_param_key("gradient_error", R"({"features": 0})") == "features");
    CHECK(bad_param_key("gradient_error", R"({"family": "polynomial", "degree": 3, "features": 2})") == "features");
    CHECK(bad_param_key("gradient_error", R"({"bandwidth": 0})") == "bandwidth");
    CHECK(bad_param_key("gradient_error", R"({"ridge": -1})") == "ridge");
    CHECK(bad_param_key("gradient_error", R"({"form": "sometimes"})") == "form");
    CHECK(bad_param_key("gradient_error", R"({"family": "wavelet"})") == "family");

    Setup s;
    std::string msg;
    CHECK(eval_error_key("score_error", R"({"n": 10})", s.exact, nullptr, s, &msg) == "oracle");
    CHECK_THAT(msg, Catch::Contains("oracle") && Catch::Contains("true score"));
    CHECK(eval_error_key("gradient_error", R"({"n": 10, "form": "oracle"})", s.exact, nullptr, s, &msg) == "form");
    CHECK(eval_error_key("gradient_error", R"({"n": 10, "form": "both"})", s.exact, nullptr, s) == "form");
    for (const char* m : {"score_error", "gradient_error"}) {
        INFO(m);
        CHECK(eval_error_key(m, R"({"n": 10, "t_max": 2.0})", s.exact, s.exact, s, &msg) == "t_max");
        CHECK_THAT(msg, Catch::Contains("end time"));
        CHECK(eval_error_key(m, R"({"n": 10, "t_min": 1.5, "times": 1})", s.exact, s.exact, s) == "t_min");
        auto wrong_dim = std::make_shared<GaussianScore>(s.proc, 3, 0.5);
        CHECK(eval_error_key(m, R"({"n": 10})", wrong_dim, s.exact, s, &msg) == "score");
        CHECK_THAT(msg, Catch::Contains("R^3") && Catch::Contains("R^4"));
        CHECK(eval_error_key(m, R"({"n": 10})", s.exact, wrong_dim, s) == "oracle");
        auto other_process = std::make_shared<GaussianScore>(mdlab::test::make<mdlab::ForwardProcess>("ve"), s.d, 0.5);
        CHECK(eval_error_key(m, R"({"n": 10})", s.exact, other_process, s, &msg) == "oracle");
        CHECK_THAT(msg, Catch::Contains("another forward process"));
    }
}
