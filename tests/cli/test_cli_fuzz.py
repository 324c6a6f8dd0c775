"""Fuzzing the command line: every argument of every command, one at a time,
given each of a pool of wrong values, from a command line known to be good;
then random sequences of flags and values (hypothesis).

Each run of ``main`` must end in one of three ways, never a traceback:
- a usage error (exit 2), in argparse's words;
- ``tdnumpy: error: ...`` (exit 1) naming the flag, the value or the file,
  or, once the arguments were accepted, saying that no data were found (the
  test hides every dataset: no training starts);
- exit 0 (export-sparse, data where: done), or exit 130: the arguments
  were accepted and the command's work began (the
  benchmarks, sweeps, downloads and the conformance kit are replaced by a
  stand-in that raises KeyboardInterrupt, so none of that work runs).
A hang (a FIFO read, a loop) is stopped by an alarm after 20 s and fails.

Per CI run: 127 arguments, each with the 17 values (a flag without a value
is just given): 1,855 single-argument cases, each its own main() call, and 200 random
command lines; about 15 s in all. (The first version tried 27 values, also
" ", "1", "2", "inf", "-inf", "1e-320", ",", "a,b" and "é"; they found nothing
the 17 kept do not, and CI time is short.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tdnumpy.cli as cli
from tdnumpy.cli import build_parser, main

PARSER = build_parser()
PLACEHOLDERS = ("<dir>", "<fifo>", "<checkpoint>", "<metrics>", "<out>")
VALUES = ("", "-1", "0", "0.5", "1e309", "nan", "99999999999999999999", "abc", "fc1,fc1", "mlp:784", "x\x00y",
          "/nonexistent/file", *PLACEHOLDERS)


def commands(parser=PARSER, prefix=()):
    """(words, subparser) of every command, ``data fetch`` included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, prefix + (name,))
            return
    yield prefix, parser


COMMANDS = dict(commands())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Files the good command lines use, a FIFO, and no dataset anywhere."""
    from synthetic import synthetic_dataset
    from tdnumpy.experiments import RunConfig, train_run
    root = tmp_path_factory.mktemp("fuzz")
    run = root / "run"
    train_run(RunConfig(model="mlp:784-16-10", epochs=1), out=run, data=synthetic_dataset(), progress=False)
    (root / "empty").mkdir()
    os.mkfifo(root / "fifo")
    (root / "sweep.toml").write_text('name = "fuzz"\ntitle = "fuzz"\n[base]\nmodel = "mlp:784-16-10"\ndataset = "mnist"\nepochs = 1\n'
                                    '[grid]\nseed = [0]\n[[prune]]\nkind = "weight"\nfractions = [0.0]\n')
    (root / "impl.py").write_text("def keep(*args, **kwargs):\n    raise KeyboardInterrupt\n")
    return {"<dir>": str(root / "empty"), "<fifo>": str(root / "fifo"), "<checkpoint>": str(run / "checkpoint.npz"),
            "<metrics>": str(run / "metrics.json"), "<out>": str(root / "out"), "root": root,
            "<sweep>": str(root / "sweep.toml"), "<impl>": f"{root / 'impl.py'}:keep"}


def good_argv(words: tuple, world) -> list[str]:
    """A command line that is accepted (and then stops for want of data, or at a stand-in)."""
    data = ["--data-dir", world["<dir>"]]
    fetch = ["--no-download"]
    return {
        ("train",): ["train", "--model", "mlp:784-16-10", "--epochs", "1", "--out", world["<out>"], *data, *fetch],
        ("evaluate",): ["evaluate", world["<checkpoint>"], *data, *fetch],
        ("prune",): ["prune", world["<checkpoint>"], "--fractions", "0.5", "--out", world["<out>"], *data, *fetch],
        ("export-sparse",): ["export-sparse", world["<checkpoint>"], world["<out>"] + ".npz"],
        ("data", "fetch"): ["data", "fetch", "mnist", *data],
        ("data", "where"): ["data", "where", "mnist", *data],
        ("bench", "mlp"): ["bench", "mlp", *data],
        ("bench", "conv"): ["bench", "conv", *data],
        ("bench", "masks"): ["bench", "masks", "--size", "64", *data],
        ("conformance",): ["conformance", world["<impl>"], "--variant", "targeted-weight", "--max-examples", "1"],
        ("sweep",): ["sweep", world["<sweep>"], "--out", world["<out>"], *data],
        ("reproduce",): ["reproduce", "td-mnist-mlp", "--out", world["<out>"], "--quick", *data],
    }[words]


@pytest.fixture(autouse=True)
def no_work(monkeypatch, world):
    """No dataset anywhere, and stand-ins for the work that needs none."""
    def started(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setenv("TDNUMPY_DATA", world["<dir>"])
    monkeypatch.setenv("XDG_CACHE_HOME", world["<dir>"])
    monkeypatch.delenv("TDNUMPY_DEBUG", raising=False)
    monkeypatch.setattr(cli, "build_parser", lambda: PARSER)  # parsed afresh each call, built once
    import tdnumpy.cli.sweep as sweep_command
    import tdnumpy.data.datasets as datasets
    import tdnumpy.experiments.bench as bench
    import tdnumpy.experiments.reproduce as reproduce
    for module, name in [(bench, "bench_epoch"), (bench, "bench_masks"), (sweep_command, "sweep"),
                         (reproduce, "reproduce"), (datasets, "download_verified")]:
        monkeypatch.setattr(module, name, started)


def argument_cases():
    for words, parser in COMMANDS.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            name = action.option_strings[-1] if action.option_strings else action.dest
            values = (None,) if action.nargs == 0 else VALUES
            yield from ((words, action, name, value) for value in values)


CASES = list(argument_cases())


def with_value(argv: list[str], words: tuple, action, name: str, value) -> list[str]:
    """``argv`` with the argument of ``action`` set to ``value`` (a flag without value: given).
    In the good command lines the positionals follow the command's words, in order."""
    argv = list(argv)
    if not action.option_strings:
        positionals = [a.dest for a in COMMANDS[words]._actions if not a.option_strings]
        argv[len(words) + positionals.index(action.dest)] = value
    elif name in argv and action.nargs != 0:
        argv[argv.index(name) + 1] = value
    else:
        argv += [name] if action.nargs == 0 else [name, value]
    return argv


def clear_out(world) -> None:
    """Remove what an earlier case wrote at the output path (a run folder, or a
    file when a case gave that path where a file is written), so cases do not
    depend on their order."""
    out = Path(world["<out>"])
    if out.is_dir():
        shutil.rmtree(out)
    out.unlink(missing_ok=True)


def run_main(argv, capsys):
    """(exit code, stderr) of main(argv), stopped after 20 s."""
    def hang(signum, frame):
        raise TimeoutError(f"tdnumpy {argv} still running after 20 s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    try:
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, capsys.readouterr().err


def check_outcome(argv, code, err, named=()):
    assert "Traceback" not in err, err
    if code in (0, 130):
        return  # accepted; done, or the work began
    assert code in (1, 2), f"{argv}: exit {code!r}, stderr {err!r}"
    if code == 1:
        assert "tdnumpy: error: " in err, f"{argv}: {err!r}"
        message = err[err.index("tdnumpy: error: "):]
        if message.startswith("tdnumpy: error: Looked for "):
            return  # accepted; stopped for want of data
    else:  # argparse's own wording, which names an argument (not always the one changed)
        assert "error:" in err.strip().splitlines()[-1], f"{argv}: {err!r}"
        return
    if named:
        assert any(n in message for n in named), f"{argv}: the message names none of {named}: {message!r}"


@pytest.mark.parametrize("words", sorted(COMMANDS), ids=" ".join)
def test_a_wrong_argument_is_a_clear_error_naming_it(words, world, capsys):
    """Every (argument, wrong value) of one command; the failures are listed together.
    (One test item per command, not per case: pytest's per-item cost under
    coverage doubled the file's time.)"""
    failures = []
    for _, action, name, value in (case for case in CASES if case[0] == words):
        value = world.get(value, value)
        argv = with_value(good_argv(words, world), words, action, name, value)
        clear_out(world)
        code, err = run_main(argv, capsys)
        named = [name, action.dest, action.dest.replace("_", "-"), action.dest.upper(),
                 *str(action.metavar).split(":"), value.strip() if value else None,
                 os.path.basename(value) if value else None, *action.option_strings]
        try:
            check_outcome(argv, code, err, named=[n for n in named if n] if action.nargs != 0 else ())
        except AssertionError as failure:
            failures.append(str(failure))
    assert not failures, "\n".join(failures)


def test_the_good_command_lines_are_accepted(world, capsys):
    for words in COMMANDS:
        argv = good_argv(words, world)
        clear_out(world)
        code, err = run_main(argv, capsys)
        assert code in (0, 1, 130), f"{argv}: {code} {err!r}"
        check_outcome(argv, code, err)


TOKENS = st.sampled_from(sorted({a for p in COMMANDS.values() for act in p._actions for a in act.option_strings})
                         + list(VALUES))


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(words=st.sampled_from(sorted(COMMANDS)), tokens=st.lists(TOKENS, max_size=6))
def test_random_command_lines_never_end_in_a_traceback(words, tokens, world, capsys):
    argv = good_argv(words, world) + [world.get(t, t) for t in tokens]
    clear_out(world)
    code, err = run_main(argv, capsys)
    check_outcome(argv, code, err)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
