"""The download path, for real, against HTTP servers on 127.0.0.1.

Each server serves a temporary folder; mirrors are tried in turn and a file is
renamed into the cache only after its decompressed payload matches its pin.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import shutil
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from tdnumpy.data import FILES, DownloadError, cache_dir, download_verified, load_dataset
from tdnumpy.data.idx import read_bytes, to_idx_bytes


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(folder) -> URL prefix of an HTTP server on 127.0.0.1 serving folder."""
    servers = []

    def start(folder):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


PAYLOAD = to_idx_bytes(np.arange(100, dtype=np.uint8).reshape(4, 25))
PIN = hashlib.sha256(PAYLOAD).hexdigest()


def _publish(folder, name, payload):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(gzip.compress(payload))


def test_good_file_lands_in_the_cache(tmp_path, serve):
    _publish(tmp_path / "www", "x-idx1-ubyte.gz", PAYLOAD)
    target = cache_dir() / "mnist"
    path = download_verified("x-idx1-ubyte.gz", [serve(tmp_path / "www")], target, PIN)
    assert path == target / "x-idx1-ubyte.gz"
    assert read_bytes(path) == PAYLOAD
    assert sorted(p.name for p in target.iterdir()) == ["x-idx1-ubyte.gz"]


def test_corrupt_file_raises_hash_mismatch_and_leaves_nothing(tmp_path, serve):
    corrupt = bytearray(PAYLOAD)
    corrupt[50] ^= 0xFF
    _publish(tmp_path / "www", "x-idx1-ubyte.gz", bytes(corrupt))
    target = cache_dir() / "mnist"
    with pytest.raises(DownloadError, match="SHA-256 mismatch of the decompressed payload"):
        download_verified("x-idx1-ubyte.gz", [serve(tmp_path / "www")], target, PIN)
    assert list(target.iterdir()) == []


def test_unreachable_and_broken_mirrors_fall_through_to_the_next(tmp_path, serve, closed_port_url):
    _publish(tmp_path / "bad", "x-idx1-ubyte.gz", PAYLOAD[:-3])  # wrong payload
    (tmp_path / "empty").mkdir()                                   # answers 404
    _publish(tmp_path / "good", "x-idx1-ubyte.gz", PAYLOAD)
    mirrors = [closed_port_url, serve(tmp_path / "empty"), serve(tmp_path / "bad"), serve(tmp_path / "good")]
    messages = []
    path = download_verified("x-idx1-ubyte.gz", mirrors, cache_dir(), PIN, log=messages.append)
    assert read_bytes(path) == PAYLOAD
    assert len(messages) == 4  # every mirror was tried, in order
    assert [m.split()[1] for m in messages] == [u + "x-idx1-ubyte.gz" for u in mirrors]
    assert sorted(p.name for p in cache_dir().iterdir()) == ["x-idx1-ubyte.gz"]


def test_all_mirrors_failing_lists_each_reason(tmp_path, serve, closed_port_url):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DownloadError) as info:
        download_verified("x.gz", [closed_port_url, serve(tmp_path / "empty")], cache_dir(), PIN)
    text = str(info.value)
    assert closed_port_url + "x.gz" in text and "refused" in text.lower()
    assert "HTTP 404" in text


def test_dataset_download_end_to_end(tmp_path, serve, mnist_dir, monkeypatch):
    """load_dataset with nothing local fetches all four real MNIST files from the
    mirror into the cache, verified against the real pins."""
    monkeypatch.delenv("TDNUMPY_DATA", raising=False)
    www = tmp_path / "www"
    www.mkdir()
    for stem in FILES:
        shutil.copy(mnist_dir / f"{stem}.gz", www / f"{stem}.gz")
    data = load_dataset("mnist", mirrors=[serve(www)])
    assert len(data.train) == 60_000 and len(data.test) == 10_000
    assert data.folder == cache_dir() / "mnist"
    assert sorted(p.name for p in data.folder.iterdir()) == sorted(f"{s}.gz" for s in FILES)


def _tcp_server(respond):
    """Run a TCP server on 127.0.0.1 that calls respond(conn, stop) for every
    connection; yield its URL, and stop it afterwards."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def answer():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(1024)
                respond(conn, stop)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def garbage_server():
    """A TCP server on 127.0.0.1 that answers every connection with bytes that are not HTTP."""
    yield from _tcp_server(lambda conn, stop: conn.sendall(b"this is not HTTP\r\n\r\n"))


def test_a_mirror_speaking_garbage_falls_through(tmp_path, serve, garbage_server):
    _publish(tmp_path / "good", "x-idx1-ubyte.gz", PAYLOAD)
    path = download_verified("x-idx1-ubyte.gz", [garbage_server, serve(tmp_path / "good")], cache_dir(), PIN)
    assert read_bytes(path) == PAYLOAD


@pytest.fixture
def trickle_server():
    """An HTTP server on 127.0.0.1 that sends its headers, then one byte every 0.2 s
    of a 10 MB body: each read gets data well within any timeout, so only a bound
    on the whole download stops it."""

    def trickle(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n")
        while not stop.wait(0.2):
            try:
                conn.sendall(b"x")
            except OSError:
                return

    yield from _tcp_server(trickle)


def test_a_trickling_mirror_is_abandoned_at_the_deadline(tmp_path, serve, trickle_server):
    """Issue 18: a mirror sending a byte every few seconds kept `data fetch` going
    forever (the timeout was per read). Bound asserted: the deadline of 1 s plus
    one wait for data, and the next mirror is then used."""
    import time

    _publish(tmp_path / "good", "x-idx1-ubyte.gz", PAYLOAD)
    start = time.monotonic()
    log = []
    path = download_verified("x-idx1-ubyte.gz", [trickle_server, serve(tmp_path / "good")], cache_dir(), PIN,
                             timeout=5, deadline=1, log=log.append)
    assert time.monotonic() - start < 10 and read_bytes(path) == PAYLOAD and len(log) == 2
    with pytest.raises(DownloadError, match=r"took longer than 1 s \(deadline\)"):
        download_verified("y-idx1-ubyte.gz", [trickle_server], cache_dir(), PIN, timeout=5, deadline=1)


def test_a_mirror_may_be_given_without_its_final_slash(tmp_path, serve):
    """Issue 18: a mirror URL without a trailing slash built a wrong URL."""
    _publish(tmp_path / "www", "x-idx1-ubyte.gz", PAYLOAD)
    path = download_verified("x-idx1-ubyte.gz", [serve(tmp_path / "www").rstrip("/")], cache_dir(), PIN)
    assert read_bytes(path) == PAYLOAD


def test_the_target_name_appears_only_after_verification(tmp_path, serve, monkeypatch):
    """Hashing happens on a temporary file; the final name exists only after the rename."""
    import tdnumpy.data.download as download

    target = cache_dir() / "x-idx1-ubyte.gz"
    seen = []
    real = download.sha256_of_payload

    def spy(path):
        seen.append((path.name, target.exists()))
        return real(path)

    monkeypatch.setattr(download, "sha256_of_payload", spy)
    _publish(tmp_path / "www", "x-idx1-ubyte.gz", PAYLOAD)
    download_verified("x-idx1-ubyte.gz", [serve(tmp_path / "www")], cache_dir(), PIN)
    assert len(seen) == 1 and seen[0][0] != target.name and seen[0][1] is False
    assert target.exists()


def test_cli_data_fetch_and_where(tmp_path, serve, mnist_dir, monkeypatch, capsys):
    """'tdnumpy data fetch' downloads into the cache from --mirror; 'data where' then finds it there."""
    from tdnumpy.cli import main

    monkeypatch.delenv("TDNUMPY_DATA", raising=False)
    www = tmp_path / "www"
    www.mkdir()
    for stem in FILES:
        shutil.copy(mnist_dir / f"{stem}.gz", www / f"{stem}.gz")
    assert main(["data", "where", "mnist"]) == 1
    assert "Looked for mnist in" in capsys.readouterr().err
    assert main(["data", "fetch", "mnist", "--mirror", serve(www)]) == 0
    out = capsys.readouterr().out
    assert out.count("(SHA-256 verified)") == 4 and str(cache_dir() / "mnist") in out
    assert main(["data", "where", "mnist"]) == 0
    assert capsys.readouterr().out.count(str(cache_dir() / "mnist")) == 4
