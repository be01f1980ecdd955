"""Benchmarks: training speed and accuracy against the tutorial way, settings, stages, inference.

Each comparison runs both sides in this one process on the same data, so the
ratio holds on a noisy machine. Needs the pipeline's outputs (`dvc repro`):
data/raw/ (the archive), data/interim/reviews.parquet, data/processed/,
models/model.keras.

    python benchmarks/bench.py                      # everything, tables on stdout
    python benchmarks/bench.py --json out.json      # also write the numbers as JSON
    python benchmarks/bench.py --only training --limit 2000 --epochs 1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
import yaml  # noqa: E402

from imdb_sentiment import params as P  # noqa: E402
from imdb_sentiment import preprocess, serve, text  # noqa: E402
from imdb_sentiment.train import make_dataset, set_determinism  # noqa: E402
from imdb_sentiment.zoo import build_classifier, load_model, predict_texts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VOCAB_SIZE = 10_000
EMBEDDING, UNITS = 64, 64
SECTIONS = ("training", "settings", "stages", "inference")


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


def lstm_train_flops(tokens: int) -> float:
    """Approximate FLOPs of one training pass of Embedding(64)+LSTM(64) over `tokens` steps.

    Forward: 4 gates x (input + recurrent) x units multiply-adds per token;
    backward costs about twice the forward.
    """
    return 3 * 2 * 4 * (EMBEDDING + UNITS) * UNITS * tokens


def encode(split: str, max_len: int, limit: int | None = None) -> dict[str, np.ndarray]:
    """Reviews of one part ("train": the training part, "test": the official test set),
    encoded with the top-10,000 training vocabulary, first `max_len` tokens, shuffled."""
    source = "test" if split == "test" else "train"
    reviews = pd.read_parquet(ROOT / "data/interim/reviews.parquet",
                              filters=[("split", "==", source)])
    if split == "train":
        ids = preprocess.load_split(ROOT / "data/processed", "train")
        keys = set(zip(ids["labels"].tolist(), ids["review_ids"].tolist()))
        reviews = reviews[[k in keys for k in zip(reviews["label"], reviews["id"])]]
    reviews = reviews.sample(frac=1.0, random_state=0)[:limit]
    vocabulary = preprocess.load_vocabulary(ROOT / "data/processed")[: VOCAB_SIZE - 2]
    ids, offsets, _ = text.encode(text.make_vectorizer(vocabulary, ragged=True),
                                  reviews["text"].tolist(), max_len)
    return {"ids": ids, "offsets": offsets, "labels": reviews["label"].to_numpy(np.int8)}


def rows(data: dict[str, np.ndarray]) -> list[np.ndarray]:
    return np.split(data["ids"], data["offsets"][1:-1])


def tutorial_way(train: dict, test: dict, max_len: int, epochs: int,
                 batch_size: int | None = None) -> dict[str, float]:
    """Padded NumPy arrays into model.fit(validation_split=0.2), the tutorials' default way
    (batch_size None is fit's default, 32)."""
    x = keras.utils.pad_sequences(rows(train), maxlen=max_len)  # pre-padding, as tutorials do
    y = train["labels"].astype("float32")
    set_determinism(0)
    model = keras.Sequential([keras.Input((max_len,)), keras.layers.Embedding(VOCAB_SIZE, EMBEDDING),
                              keras.layers.LSTM(UNITS), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_split=0.2, verbose=0)
    seconds = time.perf_counter() - start
    x_test = keras.utils.pad_sequences(rows(test), maxlen=max_len)
    _, accuracy = model.evaluate(x_test, test["labels"].astype("float32"), batch_size=256, verbose=0)
    return {"reviews_per_s": len(y) * epochs / seconds, "steps": x.size, "test_accuracy": accuracy}


def split_80_20(data: dict) -> tuple[dict, dict]:
    """The same 80/20 cut as validation_split (the last 20% validate)."""
    cut = int(len(data["labels"]) * 0.8)
    head = {"ids": data["ids"][: data["offsets"][cut]], "offsets": data["offsets"][: cut + 1],
            "labels": data["labels"][:cut]}
    tail = {"ids": data["ids"][data["offsets"][cut]:],
            "offsets": data["offsets"][cut:] - data["offsets"][cut], "labels": data["labels"][cut:]}
    return head, tail


def fit_pipeline_way(cfg: P.TrainParams, train: dict, epochs: int, vocab_size: int = VOCAB_SIZE,
                     ) -> tuple[keras.Model, float, int]:
    """The train stage's input pipeline (length buckets, masking): model, reviews/s, time steps."""
    fit_part, val_part = split_80_20(train)
    set_determinism(0)
    model = build_classifier(cfg, vocab_size)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"], jit_compile=cfg.jit_compile)
    train_ds = make_dataset(fit_part, cfg.batch_size, shuffle=True, seed=0,
                            bucket_by_length=cfg.bucket_by_length)
    val_ds = make_dataset(val_part, cfg.batch_size, shuffle=False, seed=0,
                          bucket_by_length=cfg.bucket_by_length)
    start = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    steps = sum(int(tf.size(x)) for ds in (train_ds, val_ds) for x, _ in ds)
    return model, len(train["labels"]) * epochs / seconds, steps


def pipeline_way(train: dict, test: dict, epochs: int) -> dict[str, float]:
    """The tutorial's architecture, trained through this project's input pipeline."""
    cfg = P.TrainParams(model="lstm", bidirectional=False, units=[UNITS], embedding_dim=EMBEDDING,
                        pooling="last", dropout=0.0, embedding_dropout=0.0,
                        pretrained_embeddings=False)  # the train stage's default batch size
    model, rate, steps = fit_pipeline_way(cfg, train, epochs)
    test_ds = make_dataset(test, 256, shuffle=False, seed=0, bucket_by_length=True)
    _, accuracy = model.evaluate(test_ds, verbose=0)
    return {"reviews_per_s": rate, "steps": steps, "test_accuracy": accuracy}


def training(max_lens: list[int], epochs: int, limit: int | None, peak: float) -> list[dict]:
    """Tutorial way against pipeline way, per max_len: speed, padding, FLOP/s, test accuracy."""
    results = []
    for max_len in max_lens:
        train, test = encode("train", max_len, limit), encode("test", max_len, limit)
        tutorial = tutorial_way(train, test, max_len, epochs)
        ours = pipeline_way(train, test, epochs)
        # the same batch size as ours, to show what the batch size alone is worth
        same_batch = tutorial_way(train, test, max_len, epochs, P.TrainParams().batch_size)
        real_tokens = len(train["ids"])
        flops_per_review = lstm_train_flops(real_tokens) / len(train["labels"])
        row = {"max_len": max_len, "epochs": epochs, "reviews": len(train["labels"]),
               "pipeline_batch_size": P.TrainParams().batch_size}
        sides = (("tutorial", tutorial), ("pipeline", ours), ("tutorial_same_batch", same_batch))
        for name, side in sides:
            row[f"{name}_reviews_per_s"] = round(side["reviews_per_s"], 1)
            row[f"{name}_padding_share"] = round(1 - real_tokens / side["steps"], 3)
            row[f"{name}_useful_flops_pct_of_peak"] = round(
                100 * flops_per_review * side["reviews_per_s"] / peak, 2)
            row[f"{name}_test_accuracy"] = round(float(side["test_accuracy"]), 4)
        row["speedup"] = round(ours["reviews_per_s"] / tutorial["reviews_per_s"], 2)
        row["speedup_same_batch"] = round(ours["reviews_per_s"] / same_batch["reviews_per_s"], 2)
        print(json.dumps(row), file=sys.stderr, flush=True)
        results.append(row)
    return results


def settings(limit: int, batch_sizes: list[int]) -> list[dict]:
    """The default model's training speed under each batch size and with XLA (one epoch each)."""
    base = P.load("train", ROOT / P.PARAMS_FILE)
    max_len = P.load("preprocess", ROOT / P.PARAMS_FILE).max_len
    train = encode("train", max_len, limit)
    trials = [{"batch_size": b, "jit_compile": False} for b in batch_sizes]
    trials.append({"batch_size": base.batch_size, "jit_compile": True})
    results = []
    for trial in trials:
        cfg = P.from_dict("train", {**P.to_dict(base), **trial, "epochs": 1,
                                    "pretrained_embeddings": False})
        _, rate, _ = fit_pipeline_way(cfg, train, epochs=1)
        row = {**trial, "reviews": len(train["labels"]), "reviews_per_s": round(rate, 1)}
        print(json.dumps(row), file=sys.stderr, flush=True)
        results.append(row)
    return results


def stage_commands(root: Path, params: dict) -> dict[str, str]:
    """Each stage's command from dvc.yaml, ${...} filled from its vars and `params`."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text())
    values = {**params}
    for block in spec.get("vars", []):
        values.update(block)

    def lookup(match: re.Match) -> str:
        node = values
        for key in match.group(1).split("."):
            node = node[key]
        return str(node)

    return {name: re.sub(r"\$\{([^}]+)\}", lookup, stage["cmd"])
            for name, stage in spec["stages"].items()}


def peak_resident_mib(pid: int) -> float | None:
    """The process's resident-memory high-water mark (VmHWM), or None once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def run_measured(command: str, cwd: Path, log: Path) -> dict[str, float]:
    """Wall seconds and peak resident memory (MiB) of one command, run to completion.

    The peak is polled from /proc: getrusage's ru_maxrss of a child also counts
    this (large) process's pages, which the child held until it exec'd.
    """
    argv = shlex.split(command)
    env = dict(os.environ)
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
            time.sleep(0.1)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"`{command}` failed with status {proc.returncode}; see {log}")
    return {"seconds": round(seconds, 1), "peak_mib": round(peak, 1)}


def stages(train_epochs: int = 1, sample_per_class: int | None = None) -> list[dict]:
    """Every stage of dvc.yaml in a scratch directory; train for `train_epochs`.

    Full data unless `sample_per_class` (ingest.sample_per_class) asks for a quick look.
    """
    params = yaml.safe_load((ROOT / P.PARAMS_FILE).read_text())
    params["train"]["epochs"] = train_epochs
    params["ingest"]["sample_per_class"] = sample_per_class
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as scratch:
        work = Path(scratch)
        (work / P.PARAMS_FILE).write_text(yaml.safe_dump(params))
        archive = work / params["ingest"]["archive"]
        archive.parent.mkdir(parents=True)
        archive.symlink_to(ROOT / params["ingest"]["archive"])
        for name, command in stage_commands(ROOT, params).items():
            row = {"stage": name, **run_measured(command, work, work / f"{name}.log")}
            if name == "train":
                row["epochs"] = train_epochs
            print(json.dumps(row), file=sys.stderr, flush=True)
            results.append(row)
    return results


def score_test_set(model_path: Path, tuned: bool, n_single: int = 200) -> dict[str, float]:
    """One process's scoring: reviews/s over the 25,000 test reviews, single-review latency.

    tuned: the CLI's way (serve.tune_threads, SCORING_WORKERS batches at once);
    otherwise TensorFlow's default thread pools and one batch at a time.
    """
    if tuned:
        serve.tune_threads()
    workers = serve.SCORING_WORKERS if tuned else 1
    model = load_model(model_path)
    test = pd.read_parquet(ROOT / "data/interim/reviews.parquet", filters=[("split", "==", "test")])
    texts = test["text"].tolist()
    predict_texts(model, texts[:256])  # trace once
    start = time.perf_counter()
    predict_texts(model, texts, batch_size=256, workers=workers)
    batch_rate = len(texts) / (time.perf_counter() - start)
    latencies = []
    for review in texts[:n_single]:
        start = time.perf_counter()
        predict_texts(model, [review])
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    return {"reviews": len(texts), "batch_reviews_per_s": round(batch_rate, 1),
            "single_reviews": n_single,
            "single_p50_ms": round(statistics.median(latencies), 2),
            "single_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2)}


def inference(model_path: Path, rounds: int = 2) -> dict:
    """The CLI's scoring against one batch at a time on default thread pools, alternated.

    Each run is a fresh process, because TensorFlow fixes its thread pools when it
    starts; alternating lets a slow spell of the machine hit both ways.
    """
    runs: dict[str, list[dict]] = {"tuned": [], "default": []}
    for _ in range(rounds):
        for mode in runs:
            child = subprocess.run([sys.executable, __file__, "--score-child", mode,
                                    "--model", str(model_path)],
                                   capture_output=True, text=True, check=True)
            runs[mode].append(json.loads(child.stdout.strip().splitlines()[-1]))
    best = max(runs["tuned"], key=lambda r: r["batch_reviews_per_s"])
    return {**best, "rounds": rounds,
            "batch_reviews_per_s_runs": [r["batch_reviews_per_s"] for r in runs["tuned"]],
            "default_threads_1_worker_reviews_per_s_runs":
                [r["batch_reviews_per_s"] for r in runs["default"]],
            "workers": serve.SCORING_WORKERS}


def print_tables(results: dict) -> None:
    print(f"\nmachine: {results['cpus']} CPUs, {results['gpus']} GPUs, "
          f"matmul peak {results['matmul_peak_gflops']} GFLOP/s, {results['date']}")
    if results.get("training"):
        print("\n| max_len | reviews/s tutorial / pipeline | speedup | tutorial at our batch size: "
              "reviews/s, speedup, test accuracy | padding tutorial / pipeline "
              "| useful FLOP/s % of peak | test accuracy tutorial / pipeline |")
        print("|---|---|---|---|---|---|---|")
        for r in results["training"]:
            print(f"| {r['max_len']} | {r['tutorial_reviews_per_s']} / {r['pipeline_reviews_per_s']} "
                  f"| {r['speedup']}x | {r['tutorial_same_batch_reviews_per_s']}, "
                  f"{r['speedup_same_batch']}x, {r['tutorial_same_batch_test_accuracy']} "
                  f"| {r['tutorial_padding_share']:.1%} / "
                  f"{r['pipeline_padding_share']:.1%} | {r['tutorial_useful_flops_pct_of_peak']} / "
                  f"{r['pipeline_useful_flops_pct_of_peak']} | {r['tutorial_test_accuracy']} / "
                  f"{r['pipeline_test_accuracy']} |")
    if results.get("settings"):
        print("\n| batch_size | jit_compile | reviews/s (default model, 1 epoch) |")
        print("|---|---|---|")
        for r in results["settings"]:
            print(f"| {r['batch_size']} | {r['jit_compile']} | {r['reviews_per_s']} |")
    if results.get("stages"):
        print("\n| stage | wall s | peak MiB |")
        print("|---|---|---|")
        for r in results["stages"]:
            label = f"{r['stage']} ({r['epochs']} epoch)" if "epochs" in r else r["stage"]
            print(f"| {label} | {r['seconds']} | {r['peak_mib']} |")
    if results.get("inference"):
        i = results["inference"]
        print(f"\ninference (default model, {i['reviews']} test reviews): {i['batch_reviews_per_s']} "
              f"reviews/s batched (best of {i['rounds']} processes scoring the CLI's way: "
              f"{i['batch_reviews_per_s_runs']}; one batch at a time on default thread pools: "
              f"{i['default_threads_1_worker_reviews_per_s_runs']}); "
              f"single review p50 {i['single_p50_ms']} ms, "
              f"p99 {i['single_p99_ms']} ms ({i['single_reviews']} calls)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--model", default=str(ROOT / "models/model.keras"))
    parser.add_argument("--max-len", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--epochs", type=int, default=2, help="training epochs per side")
    parser.add_argument("--limit", type=int, default=None, help="use only N reviews per part")
    parser.add_argument("--settings-reviews", type=int, default=5000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--stage-sample", type=int, default=None,
                        help="stages on N reviews per class and split instead of the full data")
    parser.add_argument("--score-child", choices=("tuned", "default"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.score_child:  # a fresh process for one inference run (see `inference`)
        print(json.dumps(score_test_set(Path(args.model), args.score_child == "tuned")))
        return

    results: dict = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                     "machine": platform.machine(), "gpus": len(tf.config.list_physical_devices("GPU"))}
    peak = matmul_peak_flops()
    results["matmul_peak_gflops"] = round(peak / 1e9, 1)
    if "training" in args.only:
        results["training"] = training(args.max_len, args.epochs, args.limit, peak)
    if "settings" in args.only:
        results["settings"] = settings(args.settings_reviews, args.batch_sizes)
    if "stages" in args.only:
        results["stages"] = stages(sample_per_class=args.stage_sample)
    if "inference" in args.only:
        if Path(args.model).is_file():
            results["inference"] = inference(Path(args.model))
        else:
            print(f"bench: no model at {args.model}: inference skipped (run `dvc repro`)",
                  file=sys.stderr)
    print_tables(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
