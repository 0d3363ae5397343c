// What bench score and bench run build around the estimator: the VP process (t_min checked
// against its end time), the circle in R^D (prepared), the training set, the queries, and the
// estimator prepared on them. Components are created through the runtime's creation path
// (create_as) and run with its node context (RunContext), in a scratch folder that stands for
// the sweep cell's and is removed at the end.
#pragma once
#include <atomic>
#include <filesystem>
#include <memory>

#include <mdlab/components.hpp>

#include "estimator_choice.hpp"
#include "mdlab/runtime/executor.hpp"

namespace mdlab::runtime::bench {

// The RunObserver of components run outside a pipeline: one scratch folder for every node's
// files (removed at scope exit); log lines and progress are dropped.
class ScratchObserver : public OneFolderObserver {
public:
    ScratchObserver();
    ~ScratchObserver() override;
    ScratchObserver(const ScratchObserver&) = delete;
    ScratchObserver& operator=(const ScratchObserver&) = delete;
};

class Workload {
public:
    Workload(const BenchWorkload& workload, const Registry& registry);

    const ForwardProcess& process() const { return *vp_; }
    const Manifold& circle() const { return *circle_; }
    const std::atomic<bool>& cancel() const { return cancel_; }

    // The N training points, drawn from the circle.
    void draw_training_set();
    // M points from the prior N(0, prior_std^2 I), chunked over the stream as the samplers'
    // initial noise is.
    Matrix prior_queries() const;
    // The estimator, created through the registry and prepared on the training set (and on the
    // queries x as `model` samples if it takes them). Not wrapped in the runtime's
    // CheckedEstimator: the bench times the plugin's score call alone.
    std::shared_ptr<ScoreEstimator> prepare_estimator(const EstimatorChoice& choice, const Matrix& x) const;

private:
    const BenchWorkload& workload_;
    const Registry& registry_;
    const std::atomic<bool>& cancel_;
    mutable ScratchObserver scratch_;  // files an estimator may write while preparing
    std::shared_ptr<ForwardProcess> vp_;
    std::shared_ptr<Manifold> circle_;
    std::shared_ptr<const Matrix> data_;
};

}  // namespace mdlab::runtime::bench
