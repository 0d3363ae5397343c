// mdlab report
#include "cmd_report.hpp"

#include <iostream>

#include "mdlab/runtime/analysis.hpp"

namespace mdlab::cli {

int report(const std::filesystem::path& run_dir) {
    const runtime::Analysis analysis = runtime::write_analysis(run_dir);
    std::cout << runtime::analysis_text(analysis);
    for (const char* file : {"summary.csv", "rates.csv", "report.html"})
        std::cout << "wrote " << (run_dir / file).string() << "\n";
    return 0;
}

}  // namespace mdlab::cli
