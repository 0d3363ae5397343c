// Reproducible random streams. A stream is named by (pipeline seed, stream name); a stream
// hands out independent generators by chunk index. Work is split into fixed-size chunks, each
// drawing from its own generator, so results never depend on the thread count.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

namespace mdlab {

// Rows per random chunk. Part of the reproducibility contract: changing it changes every draw.
inline constexpr std::size_t random_chunk_rows = 256;

constexpr std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// FNV-1a: a stable hash of stream names (std::hash is not stable across implementations).
constexpr std::uint64_t stable_hash(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

// xoshiro256** with standard-normal draws by the Box-Muller transform.
class Rng {
public:
    using result_type = std::uint64_t;
    explicit Rng(std::uint64_t seed) {
        std::uint64_t x = seed;
        for (auto& w : s_) w = x = splitmix64(x);
    }
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

    result_type operator()() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // Uniform on [0, 1).
    double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
    // Uniform on (0, 1]: safe under log.
    double uniform_open0() { return static_cast<double>(((*this)() >> 11) + 1) * 0x1.0p-53; }
    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double r = std::sqrt(-2.0 * std::log(uniform_open0()));
        const double a = 2.0 * 3.14159265358979323846 * uniform();
        spare_ = r * std::sin(a);
        has_spare_ = true;
        return r * std::cos(a);
    }
    // Uniform integer in [0, n), without modulo bias.
    std::uint64_t below(std::uint64_t n) {
        const std::uint64_t limit = max() - max() % n;
        std::uint64_t x;
        do x = (*this)(); while (x >= limit);
        return x % n;
    }

private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
    double spare_ = 0.0;
    bool has_spare_ = false;
};

// A named stream: generators for chunk 0, 1, 2, ... that are independent of each other.
class RandomStream {
public:
    RandomStream(std::uint64_t seed, std::string_view name)
        : key_(splitmix64(seed ^ splitmix64(stable_hash(name)))) {}
    Rng chunk(std::uint64_t index) const { return Rng(splitmix64(key_ + splitmix64(index + 1))); }
    // A sub-stream, for example one per sampler step.
    RandomStream child(std::string_view name) const { return RandomStream(key_, name); }

private:
    explicit RandomStream(std::uint64_t key) : key_(key) {}
    std::uint64_t key_;
};

}  // namespace mdlab
