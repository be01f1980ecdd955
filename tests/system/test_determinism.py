"""A real slice of IMDb through `dvc repro`, then bit-identical outputs whatever the machine's
core count, thread settings and instruction set.

A scratch repository runs the whole pipeline with `dvc repro` on a seeded slice of the real
archive: every stage runs, the data and the model are what the slice should give, and a
second `dvc repro` finds nothing to do. Then a copy of it reruns every stage (`dvc repro
--force`) on one core, with every thread variable at 8 and an older CPU's kernels asked
for, and each output must keep every byte: its dvc.lock, which holds every output's hash,
is unchanged. The network is the default one at full size (full batches of full-length
reviews, and the short batches length buckets leave), for one epoch: TensorFlow's matrix
products split their sums by thread count at some shapes only, so a scaled-down network can
pass where the real one does not (docs/lab/decisions.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from builders import REPO, copy_repo, dvc, make_repo, run

pytestmark = pytest.mark.slow

ARCHIVE = REPO.parent / "shared" / "data" / "aclImdb_v1.tar.gz"
PER_CLASS = 250
SLICE = {
    "seed": 3,
    "ingest": {"sample_per_class": PER_CLASS},
    "train": {"epochs": 4, "learning_rate": 0.005},
}
THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)
# What would otherwise choose kernels by instruction set: OpenBLAS's core type, oneDNN's
# ISA cap (both pinned by the stage launcher) and NumPy's own SIMD dispatch (not pinned).
# Pinned, the stages run the same AVX2 kernels as everywhere; unpinned libraries would pick
# an older CPU's (AVX only) instead of this one's.
NO_AVX512_IN_NUMPY = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"
PERTURBED = {
    **{variable: "8" for variable in THREAD_VARS},
    "OPENBLAS_CORETYPE": "Sandybridge",
    "ONEDNN_MAX_CPU_ISA": "AVX",
    "NPY_DISABLE_CPU_FEATURES": NO_AVX512_IN_NUMPY,
}
ONE_CORE = frozenset({min(os.sched_getaffinity(0))})


def slice_params(path: Path) -> None:
    """The repository's own params.yaml, with the slice's changes only: the default network."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in SLICE.items():
        if isinstance(values, dict):
            params[section].update(values)
        else:
            params[section] = values
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def locked_outputs(repo: Path) -> dict[str, str]:
    """Every stage output's path -> its hash, as `dvc.lock` records them."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {
        out["path"]: out.get("md5") or out.get("hash", "")
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
    }


def repro_perturbed(repo: Path) -> subprocess.CompletedProcess:
    """`dvc repro --force` on one core, thread variables at 8, older kernels asked for."""
    env = {key: value for key, value in os.environ.items() if key not in THREAD_VARS}
    env.update(
        PERTURBED,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        DVC_NO_ANALYTICS="1",
    )
    return subprocess.run(
        [sys.executable, "-m", "dvc", "repro", "--force"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, ONE_CORE),
    )


@pytest.mark.skipif(not ARCHIVE.is_file(), reason=f"needs the real archive at {ARCHIVE}")
def test_a_real_slice_reproduces_bit_for_bit_on_one_core_and_older_kernels(tmp_path):
    repo = make_repo(tmp_path / "repo", ARCHIVE)
    slice_params(repo / "params.yaml")
    dvc("repro", cwd=repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "a real slice"], repo)

    data = json.loads((repo / "metrics" / "data.json").read_text())
    assert data["counts"] == {
        "train_pos": PER_CLASS,
        "train_neg": PER_CLASS,
        "test_pos": PER_CLASS,
        "test_neg": PER_CLASS,
        "unsup": PER_CLASS,
    }
    counts = json.loads((repo / "metrics" / "eval" / "counts.json").read_text())
    results = json.loads((repo / "metrics" / "eval.json").read_text())
    assert counts["test_reviews"] == 2 * PER_CLASS and results["accuracy"] > 0.6
    assert "up to date" in dvc("status", cwd=repo).stdout
    assert "Running stage" not in dvc("repro", cwd=repo).stdout

    reference = locked_outputs(repo)
    assert {"models/model.keras", "metrics/eval.json", "models/serving"} <= set(reference)
    again = copy_repo(repo, tmp_path / "again")
    done = repro_perturbed(again)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Running stage") == len(
        yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    )
    found = locked_outputs(again)
    differing = sorted(path for path in reference if found.get(path) != reference[path])
    assert not differing, f"on one core with older kernels asked for, {differing} differ"
    assert run(["git", "status", "--porcelain"], again).stdout == ""
