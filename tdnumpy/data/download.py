"""Verified downloads: mirrors tried in turn, the file renamed into place only
after the SHA-256 of its *decompressed* payload matches the pinned value.

The gzip wrapper of a data file differs between mirrors (compressors write
different headers), the payload does not, so the pin is on the payload.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from .._io import temporary_next_to
from .idx import IDXError, read_bytes


class DownloadError(OSError):
    """No mirror delivered a file whose payload matched its pin."""


def sha256_of_payload(path) -> str:
    """SHA-256 (hex) of the file's payload, decompressed if it is gzip-compressed."""
    return hashlib.sha256(read_bytes(path)).hexdigest()


def _fetch(url: str, dest: Path, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "tdnumpy"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)


def download_verified(filename: str, mirrors, dest_dir, sha256: str, *, timeout: float = 30.0,
                      log=None) -> Path:
    """Download ``filename`` into ``dest_dir`` from the first mirror that serves it intact.

    Each mirror is a URL prefix; the file is fetched from ``mirror + filename``
    into a temporary file in ``dest_dir``, its payload (decompressed if it is
    gzip) is hashed, and only a matching file is renamed to
    ``dest_dir / filename``. A mirror that is unreachable, answers with an
    error or serves a file with the wrong hash is skipped, and its temporary
    file removed. When no mirror succeeds, :class:`DownloadError` lists what
    each one did.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / filename
    failures = []
    for mirror in mirrors:
        url = mirror + filename
        if log:
            log(f"downloading {url}")
        fd, tmp = temporary_next_to(target, ".part")
        os.close(fd)
        try:
            _fetch(url, tmp, timeout)
            digest = sha256_of_payload(tmp)
            if digest != sha256:
                failures.append(f"{url}: SHA-256 mismatch of the decompressed payload "
                                f"(got {digest}, expected {sha256})")
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
