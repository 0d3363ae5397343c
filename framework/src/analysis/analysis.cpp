#include "mdlab/runtime/analysis.hpp"

#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/report_html.hpp"

namespace mdlab::runtime {

Analysis analyse_run(const std::filesystem::path& run_dir) {
    Analysis a;
    a.run = load_run(run_dir);
    a.summary = summarize(a.run);
    a.rates = fit_rates(a.run);
    a.correlations = rank_correlations(a.run);
    a.equivalence = equivalence_tests(a.run);
    return a;
}

Analysis write_analysis(const std::filesystem::path& run_dir) {
    Analysis a = analyse_run(run_dir);
    write_file_atomic(run_dir / "summary.csv", summary_csv(a.run, a.summary));
    write_file_atomic(run_dir / "rates.csv", rates_csv(a.run, a.rates));
    if (!a.run.correlations.empty()) write_file_atomic(run_dir / "correlations.csv", correlations_csv(a.correlations));
    if (!a.run.equivalence.empty()) write_file_atomic(run_dir / "equivalence.csv", equivalence_csv(a.equivalence));
    write_file_atomic(run_dir / "report.html", report_html(a.run, a.summary, a.rates, {},
                                                           correlations_html(a.correlations) + equivalence_html(a.equivalence)));
    return a;
}

std::string analysis_text(const Analysis& a) {
    return rates_text(a.rates) + correlations_text(a.correlations) + equivalence_text(a.equivalence);
}

}  // namespace mdlab::runtime
