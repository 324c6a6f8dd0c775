"""Verified downloads: mirrors tried in turn, the file renamed into place only
after the SHA-256 of its *decompressed* payload matches the pinned value.

The gzip wrapper of a data file differs between mirrors (compressors write
different headers), the payload does not, so the pin is on the payload.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from .._io import temporary_next_to
from .idx import IDXError, sha256_of_payload


class DownloadError(OSError):
    """No mirror delivered a file whose payload matched its pin."""


def _fetch(url: str, dest: Path, timeout: float, deadline: float) -> None:
    """Copy ``url`` to ``dest``; ``timeout`` bounds each wait for data, ``deadline``
    the whole download (a mirror trickling a byte at a time never trips the first)."""
    give_up = time.monotonic() + deadline
    request = urllib.request.Request(url, headers={"User-Agent": "tdnumpy"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        while chunk := response.read1(1 << 20):  # whatever has arrived, so the deadline is checked often
            out.write(chunk)
            if time.monotonic() > give_up:
                raise TimeoutError(f"the download took longer than {deadline:g} s (deadline)")


def download_verified(
    filename: str, mirrors, dest_dir, sha256: str, *, timeout: float = 30.0, deadline: float = 600.0, log=None
) -> Path:
    """Download ``filename`` into ``dest_dir`` from the first mirror that serves it intact.

    Each mirror is a folder URL (with or without its final slash); the file is
    fetched from ``mirror/filename`` into a temporary file in ``dest_dir``, its
    payload (decompressed if it is gzip) is hashed, and only a matching file is
    renamed to ``dest_dir / filename``. A mirror that is unreachable, answers
    with an error, takes longer than ``deadline`` or serves a file with the
    wrong hash is skipped, and its temporary file removed. When no mirror
    succeeds, :class:`DownloadError` lists what each one did.

    Parameters
    ----------
    filename : str
        The file's name on the mirrors and in ``dest_dir``.
    mirrors : iterable of str
        Folder URLs, tried in order.
    dest_dir : str or os.PathLike
        The cache folder (made if needed).
    sha256 : str
        The SHA-256 (hex) of the decompressed payload.
    timeout : float, default=30.0
        Seconds to wait for each piece of data.
    deadline : float, default=600.0
        Seconds the whole download of one file from one mirror may take.
    log : callable or None
        Called with a line per attempt.

    Returns
    -------
    pathlib.Path
        ``dest_dir / filename``.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / filename
    failures = []
    for mirror in mirrors:
        url = mirror if mirror.endswith("/") else mirror + "/"  # a folder URL, with or without its slash
        url += filename
        if log:
            log(f"downloading {url}")
        fd, tmp = temporary_next_to(target, ".part")
        os.close(fd)
        try:
            _fetch(url, tmp, timeout, deadline)
            digest = sha256_of_payload(tmp)
            if digest != sha256:
                failures.append(
                    f"{url}: SHA-256 mismatch of the decompressed payload (got {digest}, expected {sha256})"
                )
                continue
            os.replace(tmp, target)
            return target
        except urllib.error.HTTPError as e:
            failures.append(f"{url}: HTTP {e.code} {e.reason}")
        except urllib.error.URLError as e:
            failures.append(f"{url}: {e.reason}")
        except (OSError, http.client.HTTPException, IDXError, ValueError) as e:
            failures.append(f"{url}: {e}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DownloadError(f"could not download {filename}:\n  " + "\n  ".join(failures))
