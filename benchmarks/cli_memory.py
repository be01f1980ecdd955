"""The command line's memory over endless input: `imdb-sentiment predict` fed generated reviews
on stdin without end, its resident memory sampled while rows come out.

    python benchmarks/cli_memory.py                           # models/model.keras, 20 s
    python benchmarks/cli_memory.py --model m.keras --seconds 60

Prints one JSON object: seconds measured (from the first output row on), rows written, rows
per second, peak RSS, the peaks of the first quarter and the second half of that time, and
RSS by time (seconds since the start of the process, MB). Streaming means the second half's
peak stays at the first quarter's: memory does not grow with the input.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

MB = 2**20
WORDS = (
    "great wonderful brilliant loved superb moving excellent awful terrible boring hated "
    "worst dull waste the movie film plot actor scene story it was and a director ending "
    "music character"
).split()


def reviews() -> Iterator[str]:
    """Endless distinct reviews of 5 to 200 words (lengths vary, as real ones do)."""
    return (
        " ".join(WORDS[(n * 7 + i * 3) % len(WORDS)] for i in range(5 + n * 37 % 196)) + f" {n}\n"
        for n in itertools.count()
    )


def feed(stdin, stop: threading.Event, rows_per_block: int = 10_000) -> None:
    """Write reviews until told to stop or the command stops reading: a block of distinct
    ones over and over, in writes of a block, so the command never waits on this feeder
    (as with `yes "a review"`)."""
    block = "".join(itertools.islice(reviews(), rows_per_block)).encode()
    try:
        while not stop.is_set():
            stdin.write(block)
    except (BrokenPipeError, OSError, ValueError):
        pass


class RowCounter:
    """Counts the command's output lines as they arrive; notes when the first came."""

    def __init__(self, stdout) -> None:
        self.rows = 0
        self.first_at: float | None = None
        self.thread = threading.Thread(target=self._count, args=(stdout,), daemon=True)
        self.thread.start()

    def _count(self, stdout) -> None:
        for _ in stdout:
            if self.first_at is None:
                self.first_at = time.monotonic()
            self.rows += 1


def peak(samples: list[tuple[float, float]], start: float, end: float) -> float:
    """The highest RSS (MB) sampled in [start, end] (seconds since the process started)."""
    return max((mb for t, mb in samples if start <= t <= end), default=0.0)


def measure(
    model: str | Path,
    seconds: float = 20.0,
    sample_every: float = 0.25,
    startup_timeout: float = 600.0,
    command: list[str] | None = None,
) -> dict:
    """Run the command on endless stdin for `seconds` after its first output row; sample its
    RSS every `sample_every` seconds from its start. `command` defaults to
    `python -m imdb_sentiment.inference.cli`, the console script's code."""
    argv = (command or [sys.executable, "-m", "imdb_sentiment.inference.cli"]) + [
        "predict",
        "--json",
        "--model",
        str(model),
    ]
    started = time.monotonic()
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=(process.stdin, stop), daemon=True)
    feeder.start()
    counter = RowCounter(process.stdout)
    watched = psutil.Process(process.pid)
    samples: list[tuple[float, float]] = []  # (seconds since start, RSS in MB)
    rows_by_time: list[tuple[float, int]] = []
    try:
        while process.poll() is None:
            now = time.monotonic()
            try:
                samples.append((round(now - started, 2), watched.memory_info().rss / MB))
            except psutil.NoSuchProcess:
                break
            rows_by_time.append((now - started, counter.rows))
            if counter.first_at is None and now - started > startup_timeout:
                raise RuntimeError(f"no output row in {startup_timeout:.0f} s")
            if counter.first_at is not None and now - counter.first_at >= seconds:
                break
            time.sleep(sample_every)
    finally:
        stop.set()
        process.kill()
        process.wait()
        feeder.join(timeout=10)
        counter.thread.join(timeout=10)
    if counter.first_at is None:
        raise RuntimeError(f"the command ended without output: {process.stderr.read()[-2000:]!r}")
    first = counter.first_at - started
    measured = min(seconds, samples[-1][0] - first)
    last_quarter = first + measured * 3 / 4
    rows_before = max((rows for t, rows in rows_by_time if t <= last_quarter), default=0)
    return {
        "seconds": round(measured, 1),
        "rows": counter.rows,
        "rows_per_second": round(counter.rows / max(measured, 1e-9)),
        "rows_last_quarter": counter.rows - rows_before,
        "startup_seconds": round(first, 1),
        "peak_rss_mb": round(peak(samples, first, first + measured), 1),
        "first_quarter_peak_mb": round(peak(samples, first, first + measured / 4), 1),
        "second_half_peak_mb": round(peak(samples, first + measured / 2, first + measured), 1),
        "rss_mb_by_time": [[t, round(mb, 1)] for t, mb in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="default: the command's own default")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.model is None:
        from imdb_sentiment.core import locations

        args.model = str(locations.default_model())
    print(json.dumps(measure(args.model, args.seconds)))


if __name__ == "__main__":
    main()
