// One Euler-Maruyama step of the reverse SDE dx = [f - g^2 s(x, t)] dt + g dW_bar (SCIENCE.md
// section 3; score_sde's EulerMaruyamaPredictor), from t down to t - h with h > 0, given the
// score s = s(x, t):
//   x <- x - h (f(x, t) - g^2(t) s) + sqrt(g^2(t) h) z,   z = step_noise(*noise, step),
// or the step's mean when noise is null (the noise-free last step of a sampler). The one copy
// used by the euler_maruyama and predictor_corrector samplers and by `mdlab bench`; z is scratch.
#pragma once
#include <cmath>
#include <cstddef>

#include "mdlab/components.hpp"
#include "mdlab/parallel.hpp"
#include "mdlab/sampling.hpp"

namespace mdlab {

// The step with its noise z already drawn (SamplerRun::step_noise), or the mean when z is null.
inline void euler_maruyama_update(const ForwardProcess& process, double t, double h, const Matrix& s,
                                  const Matrix* z, Matrix& x) {
    const std::size_t d = cols(x);
    const double rate = process.drift_rate(t), g2 = process.g2(t);
    const bool noisy = z != nullptr;
    const double noise_scale = noisy ? std::sqrt(g2 * h) : 0.0;
    for_chunks(rows(x), random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
        for (std::size_t k = b * d; k < e * d; ++k) {
            double& xk = x.data()[k];
            const double mean = xk - h * (rate * xk - g2 * s.data()[k]);
            xk = noisy ? mean + noise_scale * z->data()[k] : mean;
        }
    });
}

inline void euler_maruyama_update(const ForwardProcess& process, double t, double h, const Matrix& s,
                                  const RandomStream* noise, std::size_t step, Matrix& z, Matrix& x) {
    if (noise != nullptr) step_noise(*noise, step, z);
    euler_maruyama_update(process, t, h, s, noise != nullptr ? &z : nullptr, x);
}

}  // namespace mdlab
