"""numpy arrays at the boundary: dtypes, shapes, contiguity and NaN give mdlab.InputError naming
the argument; results come back without a second copy, in float32 when given float32."""
import numpy as np
import pytest

import mdlab


@pytest.fixture(scope="module")
def est():
    data = np.random.default_rng(0).normal(size=(40, 3))
    return mdlab.component("empirical", data=data, process="vp")


def test_float64_result_owns_no_copy_of_a_python_buffer(est):
    x = np.random.default_rng(1).normal(size=(5, 3))
    s = est.score(x, 0.5)
    assert s.dtype == np.float64 and s.shape == (5, 3)
    assert not s.flags["OWNDATA"] and s.base is not None  # the Matrix's buffer, held by a capsule
    assert s.flags["C_CONTIGUOUS"] and s.flags["WRITEABLE"]


def test_float32_in_float32_out(est):
    x = np.random.default_rng(1).normal(size=(5, 3))
    s32 = est.score(x.astype(np.float32), 0.5)
    assert s32.dtype == np.float32
    np.testing.assert_allclose(s32, est.score(x.astype(np.float32).astype(np.float64), 0.5), rtol=1e-6)


@pytest.mark.parametrize(
    "x, said",
    [
        (np.zeros((4, 2)), "2 columns, not 3"),
        (np.zeros(3), "1-D"),
        (np.zeros((2, 3, 1)), "3-D"),
        (np.zeros((4, 3), dtype=np.int64), "dtype int64"),
        (np.zeros((4, 3), dtype=np.complex128), "dtype complex128"),
        (np.zeros((3, 4)).T, "not C-contiguous"),
        (np.zeros((4, 6))[:, ::2], "not C-contiguous"),
        ([[0.0, 0.0, 0.0]], "not a numpy array"),
    ],
)
def test_bad_arrays_name_the_argument_and_the_expected_shape(est, x, said):
    with pytest.raises(mdlab.InputError) as e:
        est.score(x, 0.5)
    text = str(e.value)
    assert said in text and "key 'x'" in text and "(n, 3)" in text


def test_nan_and_inf_are_refused_with_their_place(est):
    x = np.zeros((4, 3))
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"(?s)row 2 column 1 .*not a finite number"):
        est.score(x, 0.5)
    x[2, 1] = np.inf
    with pytest.raises(mdlab.InputError, match="row 2"):
        est.denoise(x, 0.5)


def test_bad_training_data_names_its_port():
    with pytest.raises(mdlab.InputError, match="(?s)key 'data'.*dtype"):
        mdlab.component("empirical", data=np.zeros((4, 2), dtype=np.int32), process="vp")
    bad = np.zeros((4, 2))
    bad[0, 0] = np.nan
    with pytest.raises(mdlab.InputError, match="(?s)key 'data'.*row 0"):
        mdlab.component("empirical", data=bad, process="vp")


def test_empty_batch_is_fine(est):
    assert est.score(np.zeros((0, 3)), 0.5).shape == (0, 3)
