"""The aclImdb archive fetched from its URL: retried, bounded in size, and kept only once
its sha256 matches."""

from __future__ import annotations

import hashlib
import http.client
import sys
import time
import urllib.request
from pathlib import Path

from tqdm import tqdm

from imdb_sentiment.core.artifacts import atomic_path
from imdb_sentiment.data.archive import BLOCK, ArchiveError

RETRY_DELAY_CAP = 60.0  # seconds between download attempts, at most
MAX_RETRIES = 100


def sha256_file(path: str | Path, chunk: int = BLOCK) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1, 2, ...): doubling from 2 s, at most
    RETRY_DELAY_CAP."""
    return min(RETRY_DELAY_CAP, 2.0 ** min(attempt, 16))


def download(
    url: str, dest: str | Path, sha256: str, retries: int = 3, max_bytes: int | None = None
) -> None:
    """Download `url` to `dest` with a progress bar, retries and sha256 check; a response
    longer than `max_bytes` is refused as it arrives (it would fill the disk otherwise).

    The file appears at `dest` only once complete and verified.
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or not 1 <= retries <= MAX_RETRIES:
        raise ValueError(f"retries={retries!r}: must be an integer in [1, {MAX_RETRIES}]")
    dest = Path(dest)
    last_error: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            with atomic_path(dest) as tmp:
                with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    with tqdm(
                        total=total,
                        unit="B",
                        unit_scale=True,
                        desc=f"download {dest.name}",
                        file=sys.stderr,
                    ) as bar:
                        while block := response.read(BLOCK):
                            if max_bytes is not None and bar.n + len(block) > max_bytes:
                                raise ArchiveError(
                                    f"{url} sends more than {max_bytes} bytes, "
                                    "more than the archive may unpack to "
                                    "(ingest.max_total_mb); nothing was kept"
                                )
                            out.write(block)
                            bar.update(len(block))
                actual = sha256_file(tmp)
                if actual != sha256:
                    raise ArchiveError(
                        f"downloaded {url} has sha256 {actual}, expected {sha256}; nothing was kept"
                    )
            return
        except ArchiveError:
            raise
        except ValueError as err:  # not a URL urllib can fetch, or an unusable path
            raise ArchiveError(f"cannot download {url!r} to {dest}: {err}") from None
        except (OSError, http.client.HTTPException) as err:
            last_error = err
            print(f"download attempt {attempt}/{retries} failed: {err}", file=sys.stderr)
            if attempt < retries:
                time.sleep(retry_delay(attempt))
    raise ArchiveError(f"could not download {url} after {retries} attempts: {last_error}")
