// The checks a plugin makes on a points input (samples, training data): the dimension, the
// number of rows and finiteness, each refused with an InputError that names the plugin and the
// port, in the same words for every plugin.
#pragma once
#include <cmath>
#include <cstddef>
#include <string>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"

namespace mdlab {

// "rows x cols", for messages.
inline std::string shape_text(const Matrix& m) { return std::to_string(rows(m)) + " x " + std::to_string(cols(m)); }

// `who`: the plugin's name. The points must live in R^d (the manifold's ambient dimension), have
// at least `min_rows` rows and be finite. For min_rows > 1, `why` says what needs that many.
inline void require_points(const std::string& who, const Matrix& y, std::size_t d, const std::string& port,
                           std::size_t min_rows = 1, const std::string& why = "") {
    if (cols(y) != d)
        throw InputError(who + ": '" + port + "' is " + shape_text(y) + " but the manifold lives in R^" +
                             std::to_string(d),
                         port);
    if (rows(y) < min_rows) {
        if (rows(y) == 0 && min_rows == 1) throw InputError(who + ": '" + port + "' is empty (0 rows)", port);
        throw InputError(who + ": '" + port + "' has " + std::to_string(rows(y)) + " rows; " + why, port);
    }
    for (std::size_t k = 0; k < y.size(); ++k)
        if (!std::isfinite(y.data()[k]))
            throw InputError(who + ": row " + std::to_string(k / d) + " of '" + port + "' is not finite", port);
}

}  // namespace mdlab
