"""Benchmarks: training speed and accuracy against the tutorial way, settings, stages, inference,
and what the reproducibility pins cost.

Every measurement runs in a fresh process (TensorFlow fixes its thread pools at
start-up, and a process that trained before carries threads and memory into
the next run), and the sides of a comparison take turns on the same data, so
the ratios hold on a noisy machine. Needs the pipeline's outputs (`dvc repro`):
data/raw/ (the archive), data/interim/reviews.parquet, data/processed/,
models/model.keras.

    python benchmarks/bench.py                      # everything, tables on stdout
    python benchmarks/bench.py --json out.json      # also write the numbers as JSON
    python benchmarks/bench.py --only training --max-len 500 --limit 4000 --epochs 2 --rounds 1
    python benchmarks/bench.py --quick              # the headline numbers in minutes (`make bench-quick`)

With --json, the sections run replace theirs in the file and the others are kept;
--quick writes its own `quick` entry and leaves the full run's sections alone.

This file is the command line and the body of the child processes (--child); the benchmarks
themselves, their harness and their tables are in benchmarks/suite/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from imdb_sentiment.core.startup import quiet_tensorflow

# The suite imports TensorFlow, whose start-up lines (absl, CUDA probing) would open the
# report: TF_CPP_MIN_LOG_LEVEL alone does not silence those printed before absl starts.
with quiet_tensorflow():
    from suite.harness import child, head_commit, machine, matmul_peak_flops, paths
    from suite.inference import cold_start, inference, score_test_set
    from suite.pinning import pinning, svd_seconds
    from suite.profiling import profile_training
    from suite.report import print_quick, print_tables
    from suite.settings import settings, settings_trial
    from suite.stages import ingest, stages
    from suite.training import TUTORIAL_EPOCHS, train_side, training
    from suite.workload import stage_params, use_threads

SECTIONS = ("training", "settings", "stages", "inference", "pinning", "ingest", "cold_start")


# --quick: the headline numbers, each with its spread over rounds
QUICK = {"rounds": 3, "limit": 8000, "epochs": 3, "max_len": 500, "identity_reviews": 2000}


def run_child(spec: dict) -> dict:
    """The body of a child process (see `suite.harness.child`): the one measurement `spec`
    names."""
    if spec["section"] == "inference":
        return score_test_set(Path(spec["model"]), spec["tuned"])
    if spec["section"] == "profile":
        return profile_training(
            spec["limit"], spec["max_len"], stage_params().batch_size, [1, 50, 100, 200, 400]
        )
    if spec["section"] == "svd":
        return svd_seconds(spec["one_thread"])
    use_threads(spec["threads"])  # before TensorFlow starts, which fixes them
    if spec["section"] == "training":
        return train_side(spec["side"], spec["max_len"], spec["epochs"], spec["limit"])
    return settings_trial(spec["trial"], spec["limit"], spec["epochs"])


def quick(model_path: Path, peak: float, today: str) -> dict:
    """The headline numbers (each side by side or over rounds in this one run)."""
    started = time.perf_counter()
    result = {
        "date": today,
        "commit": head_commit(),
        **machine(),
        "matmul_peak_gflops": round(peak / 1e9, 1),
        "settings": QUICK,
        "ingest": ingest(QUICK["rounds"]),
        "cold_start": cold_start(model_path, QUICK["rounds"], QUICK["identity_reviews"]),
        "inference": inference(model_path, rounds=2),
        "training": training([QUICK["max_len"]], QUICK["epochs"], QUICK["limit"], peak, rounds=2)[
            0
        ],
        "profile": child(
            {"section": "profile", "limit": QUICK["limit"], "max_len": QUICK["max_len"]}
        ),
    }
    result["profile"]["matmul_peak_gflops"] = result["matmul_peak_gflops"]
    result["minutes"] = round((time.perf_counter() - started) / 60, 1)
    return result


def main(argv: list[str] | None = None) -> None:
    """The command line (this module's docstring), or one measurement with --child."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--model", default=str(paths()["model"]))
    parser.add_argument("--max-len", type=int, nargs="+", default=[200, 500])
    parser.add_argument(
        "--epochs",
        type=int,
        default=TUTORIAL_EPOCHS,
        help="training: the tutorial's fixed epochs, and the most the pipeline runs",
    )
    parser.add_argument("--limit", type=int, default=None, help="use only N reviews per part")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="turns each side takes (training, settings, inference)",
    )
    parser.add_argument("--settings-reviews", type=int, default=5000)
    parser.add_argument("--settings-epochs", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument(
        "--stage-sample",
        type=int,
        default=None,
        help="stages on N reviews per class and split instead of the full data",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only the headline numbers, with their spread: ingest, a one-review "
        "cold start, batch scoring, training at max_len 500 on a slice",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # a fresh process for one measurement (see `suite.harness.child`)
        print(json.dumps(run_child(json.loads(args.child))))
        return

    kept = (
        json.loads(Path(args.json).read_text()) if args.json and Path(args.json).is_file() else {}
    )
    today = time.strftime("%Y-%m-%d")
    peak = matmul_peak_flops()
    if args.quick:
        results = {**kept, "quick": quick(Path(args.model), peak, today)}
        print_quick(results["quick"])
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        return
    # Sections are re-run one at a time, on machines of different speed: each keeps its own
    # date, commit and matmul peak, so its numbers can be read against the others.
    when = {"date": today, "commit": head_commit(), "matmul_peak_gflops": round(peak / 1e9, 1)}
    results: dict = {
        **kept,
        **machine(),
        "measured": {**kept.get("measured", {}), **{section: when for section in args.only}},
    }
    if "training" in args.only:
        results["training"] = training(args.max_len, args.epochs, args.limit, peak, args.rounds)
    if "settings" in args.only:
        results["settings"] = settings(
            args.settings_reviews, args.batch_sizes, args.settings_epochs, args.rounds
        )
    if "stages" in args.only:
        results["stages"] = stages(sample_per_class=args.stage_sample)
    if "inference" in args.only:
        if Path(args.model).is_file():
            results["inference"] = inference(Path(args.model), args.rounds)
        else:
            print(
                f"bench: no model at {args.model}: inference skipped (run `dvc repro`)",
                file=sys.stderr,
            )
    if "pinning" in args.only:
        results["pinning"] = pinning(args.settings_reviews, args.settings_epochs, args.rounds)
    if "ingest" in args.only:
        results["ingest"] = ingest(QUICK["rounds"])
    if "cold_start" in args.only:
        results["cold_start"] = cold_start(
            Path(args.model), QUICK["rounds"], QUICK["identity_reviews"]
        )
    print_tables(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
