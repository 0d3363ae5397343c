// The time grid a user gives (a sampler's grid = "given") instead of one computed from steps and
// t_min: a list of noise levels (`sigmas`) or of times (`times`), in the parameters or in a file
// (`sigmas_file`, `times_file`: .npy, or .csv/.txt numbers, see mdlab/number_list.hpp).
//
// Conventions, those of k-diffusion: a sigma is the noise-to-signal ratio sigma(t)/alpha(t) of
// the process (k-diffusion's sigma, also for VP models; sigma itself for ve and edm), mapped to
// its time by ForwardProcess::time_at_noise_ratio. Lists run from the start of sampling down to
// its end, strictly decreasing, at least 2 entries; a list of sigmas may end in 0, which means
// "denoise to the end": the sampler's Tweedie step at the last nonzero sigma (k-diffusion's last
// Euler step to sigma = 0 is the denoiser). The number of steps is the entries minus one, not
// counting that final 0. Entries lie in the process's range: times in (0, T], sigmas above
// sigma(0)/alpha(0) and at most sigma(T)/alpha(T); a first entry below T starts sampling there.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "mdlab/components.hpp"
#include "mdlab/error.hpp"
#include "mdlab/number_list.hpp"
#include "mdlab/params.hpp"

namespace mdlab {

class GivenGrid {
public:
    // The list held by p's sigmas, times, sigmas_file or times_file (keys p does not have count
    // as empty), or nullopt when none holds one. Checks what needs no process: one source only,
    // and the order and sign of the entries.
    static std::optional<GivenGrid> from_params(const Params& p) {
        std::optional<GivenGrid> found;
        auto offer = [&](const char* key, bool sigmas, auto&& read) {
            if (!found) {
                found = GivenGrid(key, sigmas, read());
                return;
            }
            throw InputError(std::string("give one list for grid 'given': ") + found->key_ + " and " + key +
                                 " are both set (keep one of sigmas, times, sigmas_file, times_file)",
                             key);
        };
        for (const char* key : {"sigmas", "times"})
            if (p.has(key) && !p.real_list(key).empty()) offer(key, key[0] == 's', [&] { return p.real_list(key); });
        for (const char* key : {"sigmas_file", "times_file"})
            if (p.has(key) && !p.string(key).empty())
                offer(key, key[0] == 's', [&] { return read_number_list(p.string(key), key); });
        if (found) found->check();
        return found;
    }

    // The parameter that holds the list.
    const std::string& key() const { return key_; }
    bool of_sigmas() const { return sigmas_; }
    // Steps between the entries (a final 0 of sigmas is not counted: it is the Tweedie step).
    std::size_t steps() const { return values_.size() - 1; }
    bool ends_in_zero() const { return ends_in_zero_; }
    std::size_t entries() const { return values_.size() + (ends_in_zero_ ? 1 : 0); }

    // The times of the grid on `process`, decreasing; sigmas are mapped through the inverse of
    // sigma(t)/alpha(t). Entries outside the process's range are input errors.
    std::vector<double> times(const ForwardProcess& process) const {
        const double T = process.t_end();
        if (!sigmas_) {
            if (values_.front() > T)
                throw InputError(entry(0) + " is beyond the process's end time T = " + num(T), key_);
            return values_;
        }
        const double top = process.sigma(T) / process.alpha(T), bottom = process.sigma(0.0) / process.alpha(0.0);
        // A first sigma equal to the one at T up to rounding (computed by the user) starts at T exactly.
        const double slack = 1e-12 * top;
        if (values_.front() > top + slack)
            throw InputError(entry(0) + " is above the process's largest noise level sigma(T)/alpha(T) = " + num(top) +
                                 " (at its end time T = " + num(T) + ")",
                             key_);
        if (!(values_.back() > bottom))
            throw InputError(entry(values_.size() - 1) + " is not above the process's smallest noise level " +
                                 "sigma(0)/alpha(0) = " + num(bottom) + " (only a final 0 may be below it)",
                             key_);
        std::vector<double> t(values_.size());
        for (std::size_t i = 0; i < t.size(); ++i) {
            t[i] = values_[i] >= top - slack ? T : std::min(T, process.time_at_noise_ratio(values_[i]));
            if (!(t[i] > 0.0) || (i > 0 && !(t[i] < t[i - 1])))
                throw InputError(entry(i) + " maps to the time t = " + num(t[i]) +
                                     (i > 0 ? ", not below the time of " + key_ + "[" + std::to_string(i - 1) + "], " + num(t[i - 1])
                                            : std::string(", not above 0")) +
                                     ": the noise levels are too close for the process's time axis",
                                 key_);
        }
        return t;
    }

private:
    GivenGrid(std::string key, bool sigmas, std::vector<double> values)
        : key_(std::move(key)), sigmas_(sigmas), values_(std::move(values)) {}

    // The shortest of 15 or 17 significant digits that reads back as x.
    static std::string num(double x) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.15g", x);
        if (std::strtod(buf, nullptr) != x) std::snprintf(buf, sizeof buf, "%.17g", x);
        return buf;
    }
    // "sigmas[3] = 2.5", the index counted from 0 in the list as given.
    std::string entry(std::size_t i) const { return key_ + "[" + std::to_string(i) + "] = " + num(values_[i]); }

    void check() {
        const char* what = sigmas_ ? "sigmas" : "times";
        if (sigmas_ && values_.size() > 1 && values_.back() == 0.0) {
            ends_in_zero_ = true;
            values_.pop_back();
        }
        for (std::size_t i = 0; i < values_.size(); ++i)
            if (!(values_[i] > 0.0))
                throw InputError(entry(i) + " must be positive" +
                                     (sigmas_ ? std::string(" (only the last entry may be 0: denoise to the end)")
                                              : std::string(" (a final 0 is for sigmas, meaning denoise to the end)")),
                                 key_);
        if (values_.size() < 2)
            throw InputError(std::string("a given grid needs at least 2 ") + what + (ends_in_zero_ ? " before the final 0" : "") +
                                 ", " + key_ + " has " + std::to_string(values_.size()),
                             key_);
        for (std::size_t i = 1; i < values_.size(); ++i)
            if (!(values_[i] < values_[i - 1]))
                throw InputError(entry(i) + " is not below " + entry(i - 1) +
                                     ": a given grid runs from the start of sampling down to its end, strictly decreasing "
                                     "(k-diffusion's order)",
                                 key_);
    }

    std::string key_;
    bool sigmas_;
    std::vector<double> values_;  // without the final 0
    bool ends_in_zero_ = false;
};

}  // namespace mdlab
