#include "mdlab/runtime/analysis.hpp"

#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/report_html.hpp"

namespace mdlab::runtime {

Analysis analyse_run(const std::filesystem::path& run_dir) {
    Analysis a;
    a.run = load_run(run_dir);
    a.summary = summarize(a.run);
    a.rates = fit_rates(a.run);
    return a;
}

Analysis write_analysis(const std::filesystem::path& run_dir) {
    Analysis a = analyse_run(run_dir);
    write_file_atomic(run_dir / "summary.csv", summary_csv(a.run, a.summary));
    write_file_atomic(run_dir / "rates.csv", rates_csv(a.run, a.rates));
    write_file_atomic(run_dir / "report.html", report_html(a.run, a.summary, a.rates));
    return a;
}

}  // namespace mdlab::runtime
