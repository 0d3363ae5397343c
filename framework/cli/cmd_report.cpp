// mdlab report
#include "cmd_report.hpp"

#include <iostream>
#include <string>
#include <vector>

#include "mdlab/runtime/analysis.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/special_files.hpp"

namespace mdlab::cli {

int report(const std::filesystem::path& run_dir) {
    runtime::refuse_special_files(run_dir, "RUN_DIR");  // a FIFO or device is never opened
    const runtime::Analysis analysis = runtime::write_analysis(run_dir);
    std::cout << runtime::printable(runtime::analysis_text(analysis), true);
    std::vector<std::string> files{"summary.csv", "rates.csv"};
    if (!analysis.run.correlations.empty()) files.emplace_back("correlations.csv");
    if (!analysis.run.equivalence.empty()) files.emplace_back("equivalence.csv");
    files.emplace_back("report.html");
    for (const auto& file : files) std::cout << "wrote " << runtime::printable((run_dir / file).string()) << "\n";
    return 0;
}

}  // namespace mdlab::cli
