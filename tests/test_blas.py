"""tdnumpy/_blas.py: OpenBLAS's spin time is set when tdnumpy loads first, never overridden."""

from __future__ import annotations

import os
import subprocess
import sys

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
