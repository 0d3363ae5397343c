// What makes two pipelines "the same pipeline" for a run folder: the same seed and the same nodes
// (ids, plugins, inputs, and every parameter the sweep does not vary). The sweep itself (its
// values, and which keys it varies) may change: a grown sweep resumes, its cells matched by
// configuration. The name, the description and the declared analyses do not count either.
//
// In: a validated pipeline. Out: its identity (JSON, kept in the run folder's mdlab-run.json),
// a digest of it, and the differences between two identities in words.
#pragma once
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "mdlab/runtime/pipeline.hpp"

namespace mdlab::runtime {

// {"seed", "swept": [sweep keys], "nodes": {id: {"plugin", "inputs", "params"} or
// {"alternatives": {label: {...}}}}}; params as in the sweep's first cell (a variant's: its first).
boost::json::object run_identity(const ValidatedPipeline& vp);

// A short hex digest of the identity without its swept keys: equal digests, the same pipeline.
std::string identity_digest(const boost::json::object& identity);

// What differs between the identity of the run in a folder (`was`) and this one (`now`), one line
// per difference ("node 'gen': steps is 200 here, 300 in the folder's run"); a key swept by either
// pipeline is not compared. Empty: the same pipeline.
std::vector<std::string> identity_differences(const boost::json::object& was, const boost::json::object& now);

}  // namespace mdlab::runtime
