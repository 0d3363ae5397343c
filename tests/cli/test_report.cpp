// summary.csv, rates.csv and report.html of a real sweep, checked against numbers recomputed
// here from results.csv; no rate fits unless declared; `mdlab report` rewrites them byte for byte; thread counts do not
// change them; a folder that is not a run folder is bad input.
#include <cmath>
#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"
#include "report_sweep.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;
using Catch::Detail::Approx;

namespace {

const double t975_1 = std::tan(M_PI * 0.475);  // t_{0.975, 1} (Cauchy): two seeds per group
constexpr double t975_6 = 2.44691185;  // t_{0.975, 6}: 8 points in a rate fit

fs::path run_sweep(const fs::path& dir, const std::string& name, bool declare_rates, const std::string& threads = "2") {
    const fs::path pipeline = dir / (name + ".json");
    write_text(pipeline, report_sweep_pipeline(declare_rates));
    const fs::path out = dir / name;
    const auto r = run_mdlab({"run", pipeline.string(), "--out", out.string(), "--threads", threads});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    if (declare_rates) CHECK(r.out.find("mem.mean_d1 vs train.n: slope") != std::string::npos);
    return out;
}

double num(const std::string& s) { return std::stod(s); }

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
}

// The values of one results.csv column for one node, by train.n.
std::map<std::string, std::vector<double>> column_by_size(const std::vector<CsvRow>& results, const std::string& node,
                                                          const std::string& column) {
    std::map<std::string, std::vector<double>> out;
    for (const auto& r : results)
        if (r.at("node") == node && !r.at(column).empty()) out[r.at("train.n")].push_back(num(r.at(column)));
    return out;
}

}  // namespace

TEST_CASE("summary.csv, rates.csv and report.html of a sweep agree with results.csv") {
    TempDir tmp;
    const fs::path out = run_sweep(tmp.path(), "run", true);
    const auto results = parse_csv(read_text(out / "results.csv"));
    const auto summary = parse_csv(read_text(out / "summary.csv"));

    SECTION("summary over seeds: mean, standard error and t interval per (train.n, node, value)") {
        std::size_t expected_rows = 0;
        for (const std::string node : {"dist", "mem", "dist_ode"}) {
            std::set<std::string> columns;
            for (const auto& r : summary)
                if (r.at("node") == node) columns.insert(r.at("value"));
            CHECK(columns.size() == (node == "mem" ? 5u : 4u));
            for (const auto& column : columns)
                for (const auto& [size, values] : column_by_size(results, node, column)) {
                    INFO(node << "." << column << " at train.n=" << size);
                    REQUIRE(values.size() == 2);
                    ++expected_rows;
                    const CsvRow* row = nullptr;
                    for (const auto& r : summary)
                        if (r.at("train.n") == size && r.at("node") == node && r.at("value") == column) row = &r;
                    REQUIRE(row);
                    const double mean = (values[0] + values[1]) / 2;
                    const double se = std::fabs(values[0] - values[1]) / 2;  // sd / sqrt(2) for two values
                    CHECK(row->at("n") == "2");
                    CHECK(num(row->at("mean")) == Approx(mean).epsilon(1e-12));
                    CHECK(num(row->at("se")) == Approx(se).epsilon(1e-12).margin(1e-300));
                    CHECK(num(row->at("ci_low")) == Approx(mean - t975_1 * se).epsilon(1e-9).margin(1e-12));
                    CHECK(num(row->at("ci_high")) == Approx(mean + t975_1 * se).epsilon(1e-9).margin(1e-12));
                }
        }
        CHECK(summary.size() == expected_rows);
        CHECK(summary.front().at("plugin") == "manifold_distance");
    }

    SECTION("rate fits: least squares on log-log over all seeds, t interval with n-2 dof") {
        const auto rates = parse_csv(read_text(out / "rates.csv"));
        REQUIRE(rates.size() == 2);
        for (const auto& [metric, node, column] : std::vector<std::array<std::string, 3>>{
                 {"mem.mean_d1", "mem", "mean_d1"}, {"dist.mean", "dist", "mean"}}) {
            INFO(metric);
            const CsvRow& row = row_where(rates, "metric", metric);
            CHECK(row.at("status") == "ok");
            CHECK(row.at("source") == "declared");
            CHECK(row.at("over") == "train.n");
            CHECK(row.at("n") == "8");
            // Normal equations on (ln N, ln value), written independently of the library.
            double n = 0, su = 0, sv = 0, suu = 0, suv = 0, svv = 0;
            for (const auto& r : results)
                if (r.at("node") == node) {
                    const double u = std::log(num(r.at("train.n"))), v = std::log(num(r.at(column)));
                    n += 1, su += u, sv += v, suu += u * u, suv += u * v, svv += v * v;
                }
            const double det = n * suu - su * su;
            const double slope = (n * suv - su * sv) / det, intercept = (suu * sv - su * suv) / det;
            const double rss = svv - intercept * sv - slope * suv;  // residual sum of squares
            const double se = std::sqrt(rss / (n - 2) * n / det);
            const double tss = svv - sv * sv / n;
            CHECK(num(row.at("slope")) == Approx(slope).epsilon(1e-9));
            CHECK(num(row.at("intercept")) == Approx(intercept).epsilon(1e-9));
            CHECK(num(row.at("se")) == Approx(se).epsilon(1e-6));
            CHECK(num(row.at("ci_low")) == Approx(slope - t975_6 * se).epsilon(1e-6));
            CHECK(num(row.at("ci_high")) == Approx(slope + t975_6 * se).epsilon(1e-6));
            CHECK(num(row.at("r2")) == Approx(1 - rss / tss).epsilon(1e-6));
        }
        CHECK(row_where(rates, "metric", "mem.mean_d1").at("reference") == "linear=1");
    }

    SECTION("report.html: one sample panel per sampler and cell of the first seed, a plot per rate, no outside resource") {
        const std::string html = read_text(out / "report.html");
        CHECK(count(html, "<svg data-plot=\"samples\"") == 4 * 2);  // 4 sizes (seed 1) x 2 samplers
        CHECK(count(html, "<svg data-plot=\"rate\"") == 2);
        CHECK(count(html, "class=\"guide\"") == 1);  // the reference exponent of mem.mean_d1
        CHECK(count(html, "class=\"fit\"") == 2);
        CHECK(html.find("training size sweep &amp; &lt;report&gt; test") != std::string::npos);
        for (const char* forbidden : {"http", "src=", "url(", "@import", "<link", "<script"}) {
            INFO(forbidden);
            CHECK(html.find(forbidden) == std::string::npos);
        }
        INFO("report.html is " << html.size() << " bytes");
        CHECK(html.size() < 2'000'000);
    }

    SECTION("mdlab report rewrites the very same files") {
        std::map<std::string, std::string> before;
        for (const char* f : {"summary.csv", "rates.csv", "report.html"}) {
            before[f] = read_text(out / f);
            fs::remove(out / f);
        }
        const auto r = run_mdlab({"report", out.string()});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.find((out / "report.html").string()) != std::string::npos);
        for (const auto& [f, text] : before) {
            INFO(f);
            CHECK(read_text(out / f) == text);
        }
    }
}

TEST_CASE("the analysis files are byte-identical for --threads 1 and --threads 2") {
    TempDir tmp;
    const fs::path one = run_sweep(tmp.path(), "one", true, "1");
    const fs::path two = run_sweep(tmp.path(), "two", true, "2");
    for (const char* f : {"summary.csv", "rates.csv"}) {
        INFO(f);
        CHECK(without_wall_times(read_text(one / f)) == without_wall_times(read_text(two / f)));
    }
    // The report names nothing of the folder but its files, so it is identical too.
    CHECK(read_text(one / "report.html") == read_text(two / "report.html"));
}

TEST_CASE("without declared rates nothing is fitted; without alternatives each comparison plot has one line") {
    TempDir tmp;
    const fs::path automatic = run_sweep(tmp.path(), "auto", false);
    CHECK(parse_csv(read_text(automatic / "rates.csv")).empty());
    const std::string html = read_text(automatic / "report.html");
    CHECK(count(html, "<svg data-plot=\"rate\"") == 0);
    CHECK(html.find("No rate fits: none declared") != std::string::npos);
    // One plot per metric value that varies (baselines are drawn in their value's plot), one line each.
    const auto results = parse_csv(read_text(automatic / "results.csv"));
    std::size_t varying = 0;
    for (const auto& [node, values] : std::map<std::string, std::vector<std::string>>{
             {"dist", {"mean", "median", "p95", "max"}},
             {"mem", {"fraction", "mean_d1", "n_samples"}},
             {"dist_ode", {"mean", "median", "p95", "max"}}})
        for (const auto& v : values) {
            std::set<std::string> seen;
            for (const auto& r : results)
                if (r.at("node") == node) seen.insert(r.at(v));
            varying += seen.size() > 1;
        }
    CHECK(count(html, "<svg data-plot=\"comparison\"") == varying);
    CHECK(count(html, "data-lines=\"1\"") == varying);
    CHECK(count(html, "<path class=\"baseline\"") == 2);  // mem's fraction and mean_d1 (when they vary)
}

TEST_CASE("mdlab report on a folder that is not a run folder exits 2") {
    TempDir tmp;
    auto r = run_mdlab({"report", tmp.path().string()});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("not a run folder") != std::string::npos);
    r = run_mdlab({"report", (tmp.path() / "missing").string()});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("no such folder") != std::string::npos);
    write_text(tmp.path() / "results.json", "{\"cells\": 3}");
    r = run_mdlab({"report", tmp.path().string()});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("results.json") != std::string::npos);
    r = run_mdlab({"report"});
    CHECK(r.exit_code == 2);
}
