// A finite data set read from a .npy or .csv file, standing in for a manifold: draws are rows of
// the file, and the distance to the data set stands in for the distance to the unknown manifold.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <mdlab/embedding.hpp>
#include <mdlab/kernels/nearest.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/npy.hpp>

namespace {

using mdlab::Matrix;
using mdlab::Vector;
namespace fs = std::filesystem;

std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
    return s.substr(b, e - b);
}

// The whole token as a double (locale-independent std::from_chars; a leading '+' is allowed).
bool parse_number(const std::string& token, double& value) {
    const char* b = token.data();
    const char* e = b + token.size();
    if (b != e && *b == '+') ++b;
    if (b == e) return false;
    const auto r = std::from_chars(b, e, value);
    return r.ec == std::errc() && r.ptr == e;
}

std::vector<std::string> split_commas(const std::string& line) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = line.find(',', start);
        fields.push_back(trim(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return fields;
}

// Numbers separated by commas, one point per line. Blank lines and lines starting with '#' are
// skipped; the first remaining line is a header when none of its fields is a number. Every row
// must have the same number of values; a value that is not a finite number is refused with its
// line and column.
Matrix read_csv(const fs::path& file) {
    std::ifstream in(file);
    if (!in) throw mdlab::InputError(file.string() + ": cannot open for reading", "path");
    const std::string where = file.string() + ": ";
    std::vector<double> values;
    std::size_t columns = 0, first_row_line = 0, line_no = 0;
    bool first = true;
    std::string line;
    while (std::getline(in, line)) {
        ++line_no;
        const std::string text = trim(line);
        if (text.empty() || text[0] == '#') continue;
        const std::vector<std::string> fields = split_commas(text);
        if (first) {
            first = false;
            double v;
            bool any_number = false;
            for (const auto& f : fields) any_number = any_number || parse_number(f, v);
            if (!any_number) {  // a header line: its width fixes the row width
                columns = fields.size();
                first_row_line = line_no;
                continue;
            }
        }
        if (columns == 0) {
            columns = fields.size();
            first_row_line = line_no;
        } else if (fields.size() != columns) {
            throw mdlab::InputError(where + "line " + std::to_string(line_no) + " has " + std::to_string(fields.size()) +
                                        " values, but line " + std::to_string(first_row_line) + " has " +
                                        std::to_string(columns) + " (rows must all have the same number of comma-separated values)",
                                    "path");
        }
        for (std::size_t c = 0; c < fields.size(); ++c) {
            double v = 0.0;
            const std::string& f = fields[c];
            if (!parse_number(f, v) || !std::isfinite(v)) {
                std::string why = f.empty() ? "is empty" : "'" + f + "' is not a finite number";
                if (f.find_first_of(" \t;") != std::string::npos) why += " (values must be separated by commas)";
                throw mdlab::InputError(where + "line " + std::to_string(line_no) + ", column " + std::to_string(c + 1) +
                                            ": the value " + why,
                                        "path");
            }
            values.push_back(v);
        }
    }
    if (in.bad()) throw mdlab::InputError(where + "read error", "path");
    if (values.empty()) throw mdlab::InputError(where + "contains no data rows", "path");
    Matrix m = Matrix::from_shape({values.size() / columns, columns});
    std::copy(values.begin(), values.end(), m.data());
    return m;
}

bool has_npy_magic(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    char magic[6] = {};
    return in.read(magic, 6) && std::memcmp(magic, "\x93NUMPY", 6) == 0;
}

// A .npy array (recognised by its magic string, whatever the file's extension) or CSV text.
// A file named .npy is always read as .npy, so a damaged one is reported as such, not as CSV.
Matrix read_points(const fs::path& file) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
        throw mdlab::InputError(file.string() + ": no such file (or not a regular file)", "path");
    Matrix m;
    if (has_npy_magic(file) || file.extension() == ".npy") {
        try {
            m = mdlab::npy::read(file);
        } catch (const mdlab::InputError& e) {
            throw mdlab::InputError(e.what(), "path");
        }
        for (std::size_t i = 0; i < mdlab::rows(m); ++i)
            for (std::size_t j = 0; j < mdlab::cols(m); ++j)
                if (!std::isfinite(m(i, j)))
                    throw mdlab::InputError(file.string() + ": row " + std::to_string(i) + ", column " +
                                                std::to_string(j) + " is not a finite number",
                                            "path");
    } else {
        m = read_csv(file);
    }
    if (mdlab::rows(m) == 0 || mdlab::cols(m) == 0)
        throw mdlab::InputError(file.string() + ": the array is empty (" + std::to_string(mdlab::rows(m)) + " x " +
                                    std::to_string(mdlab::cols(m)) + ")",
                                "path");
    return m;
}

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
        data_ = read_points(file_);  // in the constructor: `mdlab validate` reports a bad file
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
