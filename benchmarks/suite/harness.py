"""How a measurement runs: in a fresh process of bench.py (`child`), or as a command whose wall
time and peak memory are measured (`run_measured`); the machine it ran on, its matmul peak and
the commit measured; the median and spread over rounds."""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import tensorflow as tf

ROOT = Path(__file__).resolve().parents[2]
# The entry point: its --child runs one measurement (see `child`)
BENCH = Path(__file__).resolve().parents[1] / "bench.py"


def child(spec: dict, env: dict[str, str] | None = None) -> dict:
    """Run one measurement in a fresh process (bench.py --child): TensorFlow fixes its thread
    pools at start, and a process that trained before carries its threads and memory into
    the next run."""
    done = subprocess.run(
        [sys.executable, str(BENCH), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench child {spec} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_resident_mib(pid: int) -> float | None:
    """The process's resident-memory high-water mark (VmHWM), or None once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def run_measured(
    command: str | list[str], cwd: Path, log: Path, extra_env: dict[str, str] | None = None
) -> dict[str, float]:
    """Wall seconds and peak resident memory (MiB) of one command, run to completion.

    The peak is polled from /proc: getrusage's ru_maxrss of a child also counts
    this (large) process's pages, which the child held until it exec'd.
    """
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    env = {**os.environ, **(extra_env or {})}
    while "=" in argv[0]:  # leading NAME=value assignments, e.g. PYTHONPATH=src
        name, value = argv.pop(0).split("=", 1)
        env[name] = str(ROOT / value) if (ROOT / value).exists() else value
    if argv[0] == "python":
        argv[0] = sys.executable
    peak = 0.0
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            peak = max(peak, peak_resident_mib(proc.pid) or 0.0)
            time.sleep(0.02)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"`{command}` failed with status {proc.returncode}; see {log}")
    return {"seconds": round(seconds, 1), "peak_mib": round(peak, 1)}


def spread(runs: list[dict], keys: tuple[str, ...]) -> dict:
    """Median and each round's value of each key."""
    return {
        "rounds": len(runs),
        **{key: round(statistics.median(r[key] for r in runs), 2) for key in keys},
        **{f"{key}_runs": [r[key] for r in runs] for key in keys},
    }


def matmul_peak_flops(n: int = 2048, repeats: int = 10) -> float:
    """Measured float32 matrix-multiply FLOP/s of this machine (the roofline we compare to)."""
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.matmul(a, b).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        c = tf.matmul(a, b)
    c.numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def head_commit() -> str | None:
    """The checkout's short commit, or None outside git."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> dict:
    """The machine the numbers were measured on: CPU cores, architecture, GPUs."""
    return {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


@functools.cache
def paths() -> dict[str, Path]:
    """The pipeline's paths in this checkout, as dvc.yaml's `vars` name them."""
    from imdb_sentiment.core.locations import pipeline_paths

    return {key: ROOT / path for key, path in pipeline_paths(ROOT).items()}
