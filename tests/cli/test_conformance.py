"""tdnumpy conformance: import a callable, check it, one line per property, exit 0 or 1."""

from __future__ import annotations

import re
import textwrap

import pytest

from tdnumpy.cli import main

PORT = textwrap.dedent('''
    import math
    import numpy as np

    def strict(w, gamma, alpha, rng):
        """Targeted weight dropout with the released code's strict threshold, floor rounding."""
        k = math.floor(gamma * w.shape[0])
        mags = np.abs(w)
        threshold = np.sort(mags, axis=0)[k] if k < w.shape[0] else np.inf
        return ~((mags < threshold) & (rng.random(w.shape) < alpha))

    def prune_rows(w, fraction):
        """Layer pruning of a (out, in) matrix, ties to the lower index in its C order."""
        k = math.floor(fraction * w.size)
        keep = np.ones(w.size, bool)
        keep[np.argsort(np.abs(w).ravel(), kind="stable")[:k]] = False
        return keep.reshape(w.shape)
''')


@pytest.fixture
def port(tmp_path, monkeypatch):
    (tmp_path / "myport.py").write_text(PORT)
    (tmp_path / "broken.py").write_text("def f(:\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path / "myport.py"


def test_a_conforming_port_passes_with_its_convention(port, capsys):
    assert main(["conformance", "myport:strict", "--variant", "targeted-weight", "--ties", "strict",
                 "--max-examples", "30"]) == 0
    out = capsys.readouterr().out
    for name in ("targets", "only-targets", "limits", "scale-invariance", "kept-fraction", "drop-frequency"):
        assert re.search(rf"^pass\s+{name}\s+\d+\.\d+ s", out, re.M), name
    assert re.search(r"^skip\s+whole-units", out, re.M)
    assert "passed in" in out and "false-alarm rate <= 1e-06" in out


def test_the_default_convention_fails_it_with_the_property_named(port, capsys):
    assert main(["conformance", f"{port}:strict", "--variant", "targeted-weight", "--max-examples", "30",
                 "--skip", "kept-fraction,drop-frequency"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^fail\s+targets", out, re.M) and re.search(r"^skip\s+kept-fraction", out, re.M)
    assert "FAILED: targets" in out and "with ties 'strict'" in out  # the hint names the convention it fits


def test_layout_and_scope_flags_reach_the_check(port, capsys):
    assert main(["conformance", "myport:prune_rows", "--variant", "weight-pruning", "--scope", "layer",
                 "--layout", "units_first", "--max-examples", "30", "--dtypes", "float32,float64"]) == 0


@pytest.mark.parametrize("argv, match", [
    (["myport:strict", "--variant", "dropout", "--ties", "strict"], "--ties does not apply to --variant dropout"),
    (["myport:strict", "--variant", "targeted-unit", "--scope", "layer"], "--scope does not apply"),
    (["myport", "--variant", "dropout"], "must name a module and a function"),
    (["nosuchmodule:f", "--variant", "dropout"], "cannot import MODULE 'nosuchmodule': ModuleNotFoundError"),
    (["broken.py:f", "--variant", "dropout"], "cannot import MODULE 'broken.py': SyntaxError"),
    (["myport:nothing", "--variant", "dropout"], "MODULE 'myport' has no 'nothing'"),
    (["missing.py:f", "--variant", "dropout"], "MODULE 'missing.py' is not a file"),
    (["myport:strict", "--variant", "dropout"], r"must accept \(x, p, rng\)"),
    (["myport:strict", "--variant", "targeted-weight", "--dtypes", "int8"], "--dtypes 'int8' must be"),
    (["myport:strict", "--variant", "targeted-weight", "--skip", "speed"], "names unknown properties"),
])
def test_misuse_is_a_one_line_error_with_exit_code_2(port, argv, match, capsys):
    assert main(["conformance", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tdnumpy: error: ") and re.search(match, err), err


@pytest.mark.parametrize("argv", [["myport:strict"], ["myport:strict", "--variant", "targeted"],
                                  ["myport:strict", "--variant", "dropout", "--max-examples", "0"]])
def test_malformed_flags_are_usage_errors(port, argv):
    with pytest.raises(SystemExit) as info:
        main(["conformance", *argv])
    assert info.value.code == 2
