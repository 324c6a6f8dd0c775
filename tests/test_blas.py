"""tdnumpy/_blas.py: OpenBLAS's spin time is set when tdnumpy loads first, never overridden;
OpenBLAS's transpose writes a^T exactly, and declines arrays it cannot take."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tdnumpy import _blas

SHOW = "import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"


def _run(code: str, **env) -> str:
    environment = {k: v for k, v in os.environ.items() if k != _blas.VARIABLE}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=environment).stdout.strip()


@pytest.mark.parametrize("code, env, expected", [
    (f"import tdnumpy; {SHOW}", {}, _blas.TIMEOUT),                               # tdnumpy first: set
    (f"import tdnumpy.nn; {SHOW}", {}, _blas.TIMEOUT),                            # any submodule loads the package
    (f"import numpy, tdnumpy; {SHOW}", {}, "None"),                               # too late: left alone
    (f"import tdnumpy; {SHOW}", {_blas.VARIABLE: "24"}, "24"),                    # the user's value wins
])
def test_thread_timeout_is_set_only_before_numpy_and_never_overridden(code, env, expected):
    assert _run(code, **env) == expected


def test_describe_names_the_setting(monkeypatch):
    monkeypatch.setenv(_blas.VARIABLE, "16")
    assert _blas.describe().startswith("OPENBLAS_THREAD_TIMEOUT=16")
    monkeypatch.delenv(_blas.VARIABLE)
    assert "unset" in _blas.describe() and "2^28" in _blas.describe()


def test_the_record_names_numpy_its_blas_and_the_thread_count():
    """Issue 18: same seed, same results holds only for the same BLAS thread count."""
    code = "import json, tdnumpy._blas as b; print(json.dumps(b.blas_record()))"
    import json

    for threads in ("1", "2"):
        record = json.loads(_run(code, OPENBLAS_NUM_THREADS=threads))
        assert record["numpy"] and record["blas"]
        if record["blas"].startswith(("scipy-openblas", "openblas")):  # NumPy's wheels; another BLAS says None
            assert record["blas_threads"] == int(threads)


HAS_OMATCOPY = _blas._openblas_function(("scipy_cblas_somatcopy64_",)) is not None


@pytest.mark.skipif(not HAS_OMATCOPY, reason="NumPy's BLAS has no cblas_somatcopy (not NumPy's bundled OpenBLAS)")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (33, 65), (300, 1100)])
def test_transpose_writes_the_transpose(shape, dtype):
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    a[0, 0] = -0.0
    out = np.full(shape[::-1], np.nan, dtype)
    assert _blas.transpose(a, out) is True
    np.testing.assert_array_equal(out, a.T)
    assert np.signbit(out[0, 0])


def _declined():
    a = np.ones((4, 6), np.float32)
    yield "float16", a.astype(np.float16), np.empty((6, 4), np.float16)
    yield "integers", a.astype(np.int32), np.empty((6, 4), np.int32)
    yield "dtypes differ", a, np.empty((6, 4), np.float64)
    yield "wrong shape", a, np.empty((4, 6), np.float32)
    yield "a column-major", np.asfortranarray(a), np.empty((6, 4), np.float32)
    yield "a strided", np.ones((8, 6), np.float32)[::2], np.empty((6, 4), np.float32)
    yield "out column-major", a, np.empty((6, 4), np.float32, order="F")
    square = np.ones((5, 5), np.float32)
    yield "out is a", square, square
    read_only = np.empty((6, 4), np.float32)
    read_only.flags.writeable = False
    yield "out read-only", a, read_only
    yield "empty", np.ones((0, 3), np.float32), np.empty((3, 0), np.float32)
    yield "a list", [[1.0, 2.0]], np.empty((2, 1), np.float32)
    yield "1-D", np.ones(4, np.float32), np.empty(4, np.float32)


@pytest.mark.parametrize("what, a, out", list(_declined()), ids=[case[0] for case in _declined()])
def test_transpose_declines_what_it_cannot_take_and_writes_nothing(what, a, out):
    before = out.copy() if isinstance(out, np.ndarray) else None
    assert _blas.transpose(a, out) is False
    np.testing.assert_array_equal(out, before)
