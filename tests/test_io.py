"""tdnumpy/_io.py: files written atomically get the permissions open() would
give them (issue 18: every output and cache file was created 0600 by mkstemp)."""

from __future__ import annotations

import gzip
import hashlib
import os
import stat

import numpy as np
import pytest

from tdnumpy._io import atomic_write_bytes, atomic_write_json, file_mode
from tdnumpy.data import download_verified
from tdnumpy.data.idx import to_idx_bytes
from tdnumpy.nn.models import build_model
from tdnumpy.training.checkpoint import save_checkpoint


@pytest.fixture
def umask():
    """Set the process umask for one test, then put the old one back."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_new_files_follow_the_umask(tmp_path, umask, mask):
    umask(mask)
    atomic_write_bytes(tmp_path / "a.bin", b"x")
    atomic_write_json(tmp_path / "b.json", {"a": 1})
    save_checkpoint(tmp_path / "c.npz", build_model("mlp:4-3", seed=0))
    for name in ("a.bin", "b.json", "c.npz"):
        assert mode(tmp_path / name) == 0o666 & ~mask, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.json", "c.npz"]  # no temporary left


def test_a_rewrite_keeps_the_mode_the_user_gave_the_file(tmp_path, umask):
    umask(0o077)
    target = tmp_path / "metrics.json"
    atomic_write_json(target, {"epoch": 1})
    os.chmod(target, 0o664)
    atomic_write_json(target, {"epoch": 2})
    assert mode(target) == 0o664 and file_mode(target) == 0o664
    assert file_mode(tmp_path / "new.json") == 0o600  # 0666 less umask 0077


def test_a_downloaded_file_follows_the_umask(tmp_path, umask):
    umask(0o022)
    payload = to_idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "x-idx1-ubyte.gz").write_bytes(gzip.compress(payload))
    path = download_verified("x-idx1-ubyte.gz", [(tmp_path / "www").as_uri() + "/"], tmp_path / "cache",
                             hashlib.sha256(payload).hexdigest())
    assert mode(path) == 0o644


def test_a_write_killed_midway_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    """Issue 18: a SIGKILL mid-write left `.checkpoint.npz.*.tmp` files that no later run removed."""
    import signal
    import subprocess
    import sys

    target = tmp_path / "checkpoint.npz"
    atomic_write_bytes(target, b"previous")
    code = (f"from tdnumpy._io import atomic_open; import time\n"
            f"with atomic_open({str(target)!r}) as f:\n"
            f"    f.write(b'half'); f.flush(); print('writing', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    strays = list(tmp_path.glob(".checkpoint.npz.*.tmp"))
    assert len(strays) == 1 and target.read_bytes() == b"previous"  # the old file is intact
    mine = tmp_path / f".checkpoint.npz.{os.getpid()}.inuse.tmp"  # a live writer's, left alone
    older = tmp_path / ".checkpoint.npz.k3j2l1.tmp"  # not named by a process: left alone
    other = tmp_path / f".checkpoint.npz.{child.pid}.abcdefgh.tmp.tmp"  # a temporary of "checkpoint.npz.<pid>.…"
    for path in (mine, older, other):
        path.write_bytes(b"")
    atomic_write_bytes(target, b"next")
    assert target.read_bytes() == b"next"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["checkpoint.npz", mine.name, older.name, other.name])
