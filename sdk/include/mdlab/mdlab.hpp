// What every plugin needs: the component interfaces, parameters, context, errors, random
// numbers. By topic, a plugin adds what it uses: mdlab/sampling.hpp and mdlab/time_grid.hpp
// (samplers; mdlab/grid_sampler.hpp for time-grid samplers), mdlab/parallel.hpp (parallel loops),
// mdlab/npy.hpp (.npy files), mdlab/kernels/*.hpp (the fast kernels; their internals sit in
// mdlab/kernels/detail/ and are not an interface).
#pragma once
#include "mdlab/abi.hpp"
#include "mdlab/array.hpp"
#include "mdlab/components.hpp"
#include "mdlab/context.hpp"
#include "mdlab/error.hpp"
#include "mdlab/params.hpp"
#include "mdlab/plugin.hpp"
#include "mdlab/rng.hpp"
#include "mdlab/spec.hpp"
