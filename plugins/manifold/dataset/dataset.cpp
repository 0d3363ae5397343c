// A finite data set read from a .npy or .csv file, standing in for a manifold: draws are rows of
// the file, and the distance to the data set stands in for the distance to the unknown manifold.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include <mdlab/embedding.hpp>
#include <mdlab/kernels/nearest.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/point_file.hpp>

namespace {

using mdlab::Matrix;
using mdlab::Vector;
namespace fs = std::filesystem;

class Dataset : public mdlab::Manifold {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("dataset", "1.0.0",
                                 "points read from a .npy or .csv file; draws are rows, distances are to the nearest row")
            .param(mdlab::path("path", "the .npy (float64/float32, n x d) or .csv file (comma-separated numbers, optional header line)")
                       .required())
            .param(mdlab::integer("ambient_dim", 0,
                                  "ambient dimension D: the file's column count, or larger with embed = true (0: the file's column count)")
                       .at_least(0))
            .role(mdlab::ParamRole::dimension)
            .param(mdlab::boolean("embed", false,
                                  "embed the rows in R^D by a random isometry when ambient_dim exceeds the file's columns"))
            .param(mdlab::boolean("replace", true,
                                  "draw rows with replacement (false: n distinct rows, n at most the number of rows)"))
            .param(mdlab::integer("intrinsic_dim", 0, "intrinsic dimension reported for the data (0: unknown, report D)")
                       .at_least(0))
            .param(mdlab::normal_noise_param());
    }

    explicit Dataset(const mdlab::Params& p) : replace_(p.boolean("replace")) {
        if (p.has("path")) file_ = p.string("path");
        if (file_.empty()) throw mdlab::InputError("dataset: 'path' is required (a .npy or .csv file)", "path");
        data_ = mdlab::point_file::read_points(file_, "path");  // in the constructor: `mdlab validate` reports a bad file
        const std::size_t c = mdlab::cols(data_);
        const std::size_t want = p.count("ambient_dim");
        d_ = want == 0 ? c : want;
        if (d_ < c)
            throw mdlab::InputError("dataset: ambient_dim = " + std::to_string(d_) + " but " + file_.string() + " has " +
                                        std::to_string(c) + " columns (set ambient_dim to 0 or " + std::to_string(c) + ")",
                                    "ambient_dim");
        if (d_ > c && !p.boolean("embed"))
            throw mdlab::InputError("dataset: ambient_dim = " + std::to_string(d_) + " but " + file_.string() + " has " +
                                        std::to_string(c) + " columns (set ambient_dim to 0 or " + std::to_string(c) +
                                        ", or embed = true to embed the rows in R^" + std::to_string(d_) + ")",
                                    "ambient_dim");
        embedded_ = d_ > c;
        const std::size_t k = p.count("intrinsic_dim");
        k_ = k == 0 ? d_ : k;
        if (k_ > d_)
            throw mdlab::InputError("dataset: intrinsic_dim = " + std::to_string(k_) + " exceeds the ambient dimension " +
                                        std::to_string(d_),
                                    "intrinsic_dim");
        if (p.real("noise") > 0.0)
            throw mdlab::InputError("dataset: noise must be 0 (a data set has no known normal spaces)", "noise");
        set_normal_noise(0.0);
        if (!embedded_) points_ = data_;
    }

    // With embedding: Q (D x c) from the node's "embedding" stream, chunk 0, and the points Q x_i.
    void prepare(mdlab::Context& ctx) override {
        if (!embedded_) return;
        mdlab::Rng rng = ctx.stream("embedding").chunk(0);
        const mdlab::Isometry q = mdlab::Isometry::random(d_, mdlab::cols(data_), rng);
        points_ = q.embed(data_);
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return k_; }
    // The data set as used (embedded when embed = true), n x D.
    const Matrix& points() const { return points_; }

    // Without replacement the n draws are one selection of distinct rows, drawn in one pass from
    // the stream's first chunk (with replacement the draws are independent and chunked as usual).
    Matrix sample(std::size_t n, const mdlab::RandomStream& stream) const override {
        if (replace_) return Manifold::sample(n, stream);
        Matrix out = Matrix::from_shape({n, d_});
        mdlab::Rng rng = stream.chunk(0);
        sample_rows(rng, out.data(), n);
        return out;
    }

    // Uniform row indices, with replacement; without: a uniformly random ordered selection of
    // `count` distinct rows (sparse Fisher-Yates).
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        const std::size_t n = mdlab::rows(points_);
        if (replace_) {
            for (std::size_t i = 0; i < count; ++i) copy_row(rng.below(n), out + i * d_);
            return;
        }
        if (count > n)
            throw mdlab::InputError("dataset: cannot draw " + std::to_string(count) + " distinct rows from the " +
                                        std::to_string(n) + " rows of " + file_.string() +
                                        " without replacement (set replace = true)",
                                    "replace");
        std::unordered_map<std::size_t, std::size_t> swapped;  // positions moved by the shuffle
        auto at = [&](std::size_t i) {
            auto it = swapped.find(i);
            return it == swapped.end() ? i : it->second;
        };
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t j = i + rng.below(n - i);
            const std::size_t pick = at(j);
            swapped[j] = at(i);
            copy_row(pick, out + i * d_);
        }
    }

    // The nearest row of the data set (ties: the lower row index).
    Matrix project(const Matrix& x) const override {
        const auto nn = nearest(x);
        Matrix p = Matrix::from_shape({mdlab::rows(x), d_});
        for (std::size_t i = 0; i < mdlab::rows(x); ++i) copy_row(nn.index(i, 0), mdlab::row(p, i));
        return p;
    }
    Vector distance(const Matrix& x) const override { return mdlab::kernels::neighbour_distance(nearest(x), 0); }
    // The row index (0-based, as a double) of the nearest data point.
    Matrix intrinsic_coords(const Matrix& x) const override {
        const auto nn = nearest(x);
        Matrix a = Matrix::from_shape({mdlab::rows(x), 1});
        for (std::size_t i = 0; i < mdlab::rows(x); ++i) a(i, 0) = static_cast<double>(nn.index(i, 0));
        return a;
    }

    // Every data point with weight 1/N (the empirical law is the data law); resolution is ignored.
    mdlab::Quadrature quadrature(std::size_t) const override {
        require_prepared();
        mdlab::Quadrature q;
        q.nodes = points_;
        q.weights = Vector::from_shape({mdlab::rows(points_)});
        std::fill(q.weights.begin(), q.weights.end(), 1.0 / static_cast<double>(mdlab::rows(points_)));
        return q;
    }

    void tangent_bases(const Matrix&, mdlab::TangentBases&) const override {
        throw mdlab::Error("dataset: a data set has no known tangent spaces (estimate them by local PCA, as the "
                           "tangent_smoothed estimator does)");
    }

private:
    void require_prepared() const {
        if (points_.size() == 0) throw mdlab::Error("dataset: prepare() must be called before use (embed = true)");
    }
    mdlab::kernels::Neighbours nearest(const Matrix& x) const {
        require_prepared();
        if (mdlab::cols(x) != d_)
            throw mdlab::InputError("dataset: points have " + std::to_string(mdlab::cols(x)) +
                                    " columns, expected ambient_dim = " + std::to_string(d_));
        return mdlab::kernels::nearest(x, points_, 1);
    }
    void copy_row(std::size_t i, double* out) const {
        const double* r = mdlab::row(points_, i);
        std::copy(r, r + d_, out);
    }

    fs::path file_;
    bool replace_;
    Matrix data_, points_;
    std::size_t d_ = 0, k_ = 0;
    bool embedded_ = false;
};

}  // namespace

MDLAB_PLUGINS(Dataset)
