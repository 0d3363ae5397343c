#include "estimator_choice.hpp"

#include <fmt/format.h>

#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::runtime::bench {

EstimatorChoice choose_estimator(const BenchWorkload& args, const Registry& registry, const std::string& command) {
    EstimatorChoice c;
    c.rec = registry.find(args.estimator);
    if (!c.rec || c.rec->spec.kind != Kind::estimator)
        throw BadInput(option_error(
            "--estimator",
            c.rec ? "'" + args.estimator + "' is a " + std::string(to_string(c.rec->spec.kind)) + ", not a score estimator"
                  : "no estimator '" + args.estimator + "'",
            suggest(args.estimator, registry.names(Kind::estimator), "estimators")));
    if (args.dim < 2)
        throw BadInput(option_error("--dim", fmt::format("D = {} is too small", args.dim),
                                    "the circle lives in R^D with D >= 2"));

    if (args.bandwidth) c.settings.push_back({"bandwidth", boost::json::value(*args.bandwidth), "--bandwidth"});
    if (!args.precision.empty())
        c.settings.push_back({"precision", boost::json::value(boost::json::string(args.precision)), "--precision"});
    for (const auto& p : args.params) {
        const auto eq = p.find('=');
        if (eq == std::string::npos || eq == 0)
            throw BadInput(option_error("--param", "'" + p + "' is not key=value", "for example --param neighbours=20"));
        c.settings.push_back({p.substr(0, eq), parse_cli_value(p.substr(eq + 1)), "--param " + p.substr(0, eq)});
    }
    c.params = bind_settings(*c.rec, c.settings);
    // The precision the estimator computes in: --precision, else its parameter's default, else f64.
    c.precision = args.precision;
    if (c.precision.empty()) {
        const ParamSpec* p = c.rec->spec.find_param("precision");
        c.precision = p && p->default_value ? to_text(*p->default_value) : "f64";
    }

    // Another required input means another kind of estimator.
    if (!c.rec->spec.find_input("data"))
        throw BadInput(option_error("--estimator", "estimator '" + args.estimator + "' takes no training points",
                                    command + " times estimators with a `data` input: empirical, "
                                              "kernel_smoothed, tangent_smoothed, drift"));
    for (const auto& port : c.rec->spec.inputs) {
        const bool known = (port.name == "data" && port.kind == ValueKind::points) ||
                           (port.name == "model" && port.kind == ValueKind::points) ||
                           port.kind == ValueKind::process || port.kind == ValueKind::manifold;
        if (!known && port.required)
            throw BadInput(option_error("--estimator", "estimator '" + args.estimator + "' needs input '" + port.name +
                                                           "', which " + command + " cannot provide",
                                        command + " connects data, process, manifold and model inputs"));
        if (port.name == "model" && port.kind == ValueKind::points) c.wants_model = true;
    }
    return c;
}

BenchSetup setup_of(const BenchWorkload& workload, const EstimatorChoice& choice) {
    BenchSetup s;
    s.workload = workload;
    s.estimator_plugin = choice.rec->spec.name;
    s.estimator_params = choice.params;
    s.precision = choice.precision;
    return s;
}

}  // namespace mdlab::runtime::bench
