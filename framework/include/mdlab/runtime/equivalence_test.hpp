// Paired equivalence tests across seeds (the pipeline's "equivalence"): two one-sided t-tests
// (TOST) of the mean difference metric(test) - metric(control) over seeds, with the margin
// declared in the pipeline. "Unchanged" then means a measured statement: the (1 - 2 alpha)
// interval of the mean difference lies inside (-margin, margin).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "mdlab/runtime/family_decls.hpp"
#include "mdlab/runtime/run_record.hpp"

namespace mdlab::runtime {

struct TostResult {
    std::size_t n = 0;  // pairs
    double mean, se, ci_low, ci_high, p;  // (1 - 2 alpha) interval; p = the larger one-sided p-value
    bool equivalent = false;
};

// TOST on paired differences d (n >= 2 and not all equal, else NaN figures and not equivalent;
// identical pairs, d all 0, are equivalent with p = 0).
TostResult tost(const std::vector<double>& d, double margin, double alpha);

struct Equivalence {
    EquivalenceDecl decl;
    std::vector<std::pair<std::string, std::string>> group;  // the other non-seed axes
    std::string status;  // ok | unknown_metric | unknown_value | too_few_pairs
    std::string reason;
    TostResult result;
};

std::vector<Equivalence> equivalence_tests(const RunRecord& run);

std::string equivalence_csv(const std::vector<Equivalence>& rows);
std::string equivalence_text(const std::vector<Equivalence>& rows);  // empty when none
std::string equivalence_html(const std::vector<Equivalence>& rows);  // empty when none

}  // namespace mdlab::runtime
