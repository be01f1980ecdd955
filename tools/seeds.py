"""The seed spread: the default pipeline under other seeds, summarised into metrics/seeds.json.

    python tools/seeds.py --run 1 2       # dvc exp run --temp -n seed-N -S seed=N, one by one
    python tools/seeds.py                 # summarise: the workspace's seed and every seed-N experiment

Each experiment reruns the whole pipeline (the seed drives the split, the word
vectors, the teacher and the network) in a temporary copy; its results stay in
DVC's experiment refs (`dvc exp show`). The summary holds each run's best
validation accuracy and test accuracy, their mean and sample standard deviation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "metrics" / "seeds.json"
PREFIX = "seed-"


def dvc(*args: str) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=ROOT, env=env, check=True)


def git_json(rev: str, path: str) -> dict:
    shown = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout
    return json.loads(shown)


def experiment_revs() -> dict[str, str]:
    """{name: commit} of this checkout's seed-N experiments (refs/exps/.../<name>)."""
    listed = subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objectname)",
                             "refs/exps"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout.splitlines()
    revs = {}
    for line in listed:
        ref, commit = line.split()
        name = ref.rsplit("/", 1)[-1]
        if name.startswith(PREFIX):
            revs[name] = commit
    return revs


def run_record(rev: str | None) -> dict:
    """seed, best validation accuracy and test accuracy of a revision (None: the workspace)."""
    if rev is None:
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        train = json.loads((ROOT / "metrics" / "train" / "metrics.json").read_text())
        test = json.loads((ROOT / "metrics" / "eval.json").read_text())
    else:
        params = yaml.safe_load(subprocess.run(["git", "show", f"{rev}:params.yaml"], cwd=ROOT,
                                               check=True, capture_output=True, text=True).stdout)
        train = git_json(rev, "metrics/train/metrics.json")
        test = git_json(rev, "metrics/eval.json")
    return {"seed": params["seed"], "best_val_accuracy": train["best_val_accuracy"],
            "test_accuracy": test["accuracy"]}


def summarise(runs: list[dict]) -> dict:
    runs = sorted(runs, key=lambda r: r["seed"])
    summary: dict = {"runs": runs}
    for key in ("best_val_accuracy", "test_accuracy"):
        values = [r[key] for r in runs]
        summary[key] = {"mean": round(statistics.mean(values), 5),
                        "std": round(statistics.stdev(values), 5) if len(values) > 1 else 0.0}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=int, nargs="*", default=[],
                        help="seeds to run as experiments first")
    args = parser.parse_args(argv)
    for seed in args.run:
        print(f"seeds: running seed {seed}", file=sys.stderr, flush=True)
        dvc("exp", "run", "--temp", "-n", f"{PREFIX}{seed}", "-S", f"seed={seed}", "-f")
    runs = [run_record(None)] + [run_record(rev) for rev in experiment_revs().values()]
    summary = summarise(runs)
    OUT.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
