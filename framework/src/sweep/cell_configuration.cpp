// Node signatures and cell configurations (see cell_configuration.hpp).
#include "cell_configuration.hpp"

#include <boost/json/serialize.hpp>
#include <boost/uuid/detail/sha1.hpp>
#include <fmt/format.h>

#include "mdlab/runtime/param_binding.hpp"

namespace mdlab::runtime {

namespace {

// SHA-1 of the text, 40 hex digits: a fixed-size stand-in for an upstream node's signature
// (outputs are cached and resumed by signature, so a digest of this width must not collide).
std::string digest(const std::string& text) {
    boost::uuids::detail::sha1 sha;
    sha.process_bytes(text.data(), text.size());
    boost::uuids::detail::sha1::digest_type words;
    sha.get_digest(words);
    std::string out;
    for (unsigned w : words) out += fmt::format("{:08x}", w);
    return out;
}

}  // namespace

std::vector<std::string> node_signatures(const ValidatedPipeline& vp, const Cell& cell) {
    std::vector<std::string> sig(vp.nodes.size()), sig_digest(vp.nodes.size());
    for (std::size_t i : vp.order) {
        const Node& n = vp.node(cell, i);
        std::string s = n.id + "#" + n.plugin->spec.name + "@" + n.plugin->spec.version + "|seed=" +
                        std::to_string(cell.seed);
        for (const auto& [k, v] : cell.params[i].all()) s += "|" + k + "=" + boost::json::serialize(to_json(v));
        for (const auto& [port, src] : n.inputs) s += "|<" + port + ":" + vp.nodes[src].id + "=" + sig_digest[src] + ">";
        sig_digest[i] = digest(s);
        sig[i] = std::move(s);
    }
    return sig;
}

std::string cell_configuration(const ValidatedPipeline& vp, const Cell& cell) {
    std::string out;
    for (const auto& s : node_signatures(vp, cell)) out += s + "\n";
    return out;
}

}  // namespace mdlab::runtime
