"""Bit-identical outputs whatever the machine's core count, thread settings and instruction set.

Runs the preprocess, train, evaluate and export stages the way dvc.yaml starts them
(`python -m imdb_sentiment.pipeline`) on a seeded slice of the real archive, once per setting,
and compares the bytes of every output. The network is the default one at full size (full
batches of full-length reviews, and the short batches length buckets leave), for one epoch:
TensorFlow's matrix products split their sums by thread count at some shapes only, so a
scaled-down network can pass where the real one does not (docs/lab/decisions.md).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from builders import CHECKS, REPO

pytestmark = pytest.mark.slow

ARCHIVE = REPO.parent / "shared" / "data" / "aclImdb_v1.tar.gz"
THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)
# What would otherwise choose kernels by instruction set: OpenBLAS's core type, oneDNN's
# ISA cap (both pinned by the stage launcher) and NumPy's own SIMD dispatch (not pinned).
NO_AVX512_IN_NUMPY = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"
ALL_CORES = frozenset(os.sched_getaffinity(0))
# name: (environment, the cores the stages may run on). The second run changes everything
# at once: one core with every thread variable at 8, and an older CPU's (AVX only) kernels
# asked for, which unpinned libraries would pick instead of this one's; pinned, they run the
# same AVX2 kernels as everywhere. Any of these that changed a bit fails the test.
SETTINGS = {
    "all cores": ({}, ALL_CORES),
    "1 core, thread variables at 8, older CPU's kernels asked for": (
        {
            **{v: "8" for v in THREAD_VARS},
            "OPENBLAS_CORETYPE": "Sandybridge",
            "ONEDNN_MAX_CPU_ISA": "AVX",
            "NPY_DISABLE_CPU_FEATURES": NO_AVX512_IN_NUMPY,
        },
        frozenset({min(ALL_CORES)}),
    ),
}
SLICE = {
    "seed": 3,
    "ingest": {"sample_per_class": 250},
    "train": {"epochs": 1},
}


def stage(
    name: str, args: list[str], cwd: Path, env: dict[str, str], cores: frozenset[int] = ALL_CORES
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "imdb_sentiment.pipeline", name, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, cores),
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stderr[-3000:]}"


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "epoch_seconds" not in p.name
    }


def write_params(path: Path) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in SLICE.items():
        if isinstance(values, dict):
            params[section].update(values)
        else:
            params[section] = values
    params["ingest"]["archive"] = str(ARCHIVE)
    path.write_text(yaml.safe_dump(params))
    return path


def run_slice(root: Path, reviews: Path, extra_env: dict[str, str], cores: frozenset[int]) -> dict:
    """preprocess, train, evaluate and export into `root`; the digests of all their outputs."""
    root.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in THREAD_VARS and key not in ("OPENBLAS_CORETYPE", "ONEDNN_MAX_CPU_ISA")
    }
    env.update(extra_env, PYTHONPATH=str(REPO / "src"), TF_CPP_MIN_LOG_LEVEL="2")
    params = ["--params", str(write_params(root / "params.yaml"))]
    stage(
        "preprocess",
        params
        + ["--reviews", str(reviews), "--out", "processed", "--report", "out/preprocess.json"],
        root,
        env,
        cores,
    )
    stage(
        "train",
        params
        + [
            "--data",
            "processed",
            "--model",
            "out/model.keras",
            "--live",
            "out/train",
        ],
        root,
        env,
        cores,
    )
    stage(
        "evaluate",
        [
            "--reviews",
            str(reviews),
            "--model",
            "out/model.keras",
            "--live",
            "out/train",
            "--metrics",
            "out/eval.json",
            "--checks",
            str(CHECKS),
            "--robustness",
            "out/robustness.json",
            "--behaviour",
            "out/behaviour.json",
            "--plots",
            "out/eval",
        ],
        root,
        env,
        cores,
    )
    stage("export", ["--model", "out/model.keras", "--out", "out/serving"], root, env, cores)
    found = {**digests(root / "processed"), **digests(root / "out")}
    # epoch times are measurements, not results; the card holds them in its fit summary
    found.pop("model.params.json")
    found.pop("train/metrics.json")
    return found


@pytest.mark.skipif(not ARCHIVE.is_file(), reason=f"needs the real archive at {ARCHIVE}")
def test_outputs_are_bit_identical_across_cores_threads_and_instruction_sets(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    reviews = tmp_path / "reviews.parquet"
    stage(
        "ingest",
        [
            "--params",
            str(write_params(tmp_path / "params.yaml")),
            "--reviews",
            str(reviews),
            "--report",
            str(tmp_path / "data.json"),
        ],
        tmp_path,
        env,
    )
    results = {
        name: run_slice(tmp_path / str(number), reviews, extra, cores)
        for number, (name, (extra, cores)) in enumerate(SETTINGS.items())
    }
    reference = results["all cores"]
    assert any(key.endswith("embeddings.npy") for key in reference)
    assert {
        "model.keras",
        "eval.json",
        "eval/predictions.csv",
        "serving/1/saved_model.pb",
        "serving/1/fingerprint.pb",
    } <= set(reference)
    for name, found in results.items():
        differing = sorted(k for k in reference if found.get(k) != reference[k])
        assert not differing, f"{name}: {differing} differ from the run on all cores"
