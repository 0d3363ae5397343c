// mdlab report
#include "cmd_report.hpp"

#include <iostream>
#include <string>
#include <vector>

#include "mdlab/runtime/analysis.hpp"

namespace mdlab::cli {

int report(const std::filesystem::path& run_dir) {
    const runtime::Analysis analysis = runtime::write_analysis(run_dir);
    std::cout << runtime::analysis_text(analysis);
    std::vector<std::string> files{"summary.csv", "rates.csv"};
    if (!analysis.run.correlations.empty()) files.emplace_back("correlations.csv");
    if (!analysis.run.equivalence.empty()) files.emplace_back("equivalence.csv");
    files.emplace_back("report.html");
    for (const auto& file : files) std::cout << "wrote " << (run_dir / file).string() << "\n";
    return 0;
}

}  // namespace mdlab::cli
