"""docs/benchmarks.md's tables (and the pin costs in docs/reproducibility.md, the scoring speed
in docs/usage.md), from benchmarks/results.json: a section not measured yet gives a note."""

from __future__ import annotations

from collections.abc import Callable

from .formatting import missing, num, pct, prose, runs, speed, table
from .sources import BENCH, Sources


def bench_or_note(
    section: str, dated: bool = True
) -> Callable[[Callable[[dict], str]], Callable[[Sources], str]]:
    """A generator of the benchmark file's `section` ("": the whole file), or a note while
    the file or that section is missing; `dated`: after the line saying when it was
    measured."""

    def wrap(fn: Callable[[dict], str]) -> Callable[[Sources], str]:
        def gen(src: Sources) -> str:
            bench = src.get(BENCH)
            if bench and section and not bench.get(section):
                command = "make bench-quick" if section == "quick" else "make bench"
                return (
                    f"_Not measured yet: `{command}` writes the `{section}` section of `{BENCH}`._"
                )
            if not bench:
                return missing(BENCH)
            return (measured_when(bench, section) if dated else "") + fn(bench)

        return gen

    return wrap


def measured_when(bench: dict, section: str) -> str:
    """The date and commit a `make bench` section was measured at, as a line before its
    table: the sections are rerun one at a time, so the code they measured may be older
    than the current model's."""
    when = bench.get("measured", {}).get(section)
    if not when:
        return ""
    return prose(f"Measured by `make bench` on {when['date']} at {when['commit']}.") + "\n\n"


def met(reached: bool) -> str:
    """A goal's mark in the tables: met, or not (the decision log says why not)."""
    return "yes" if reached else "**no**"


def same_batch_rounds(row: dict) -> list[float]:
    """Each round's ratio of the pipeline over the tutorial at the stage's batch size (the
    sides took turns, so round i of one faced round i of the other): as the benchmark
    rounded them, or from the rounded reviews/s of a result file older than that."""
    if "speedup_our_batch_runs" in row:
        return row["speedup_our_batch_runs"]
    return [
        ours / theirs
        for ours, theirs in zip(
            row["pipeline"]["reviews_per_s_runs"], row["tutorial_our_batch"]["reviews_per_s_runs"]
        )
    ]


def same_batch_speedup(row: dict) -> str:
    """The pipeline over the tutorial at the stage's batch size: the median's ratio, then
    each round's."""
    return (
        f"{num(row['speedup_over_tutorial_our_batch'], 2)}x "
        f"({', '.join(num(x, 2) + 'x' for x in same_batch_rounds(row))})"
    )


def stride_words(tokens_per_time_step: int) -> str:
    """What the per-token cost covers, with or without the strided convolution."""
    if tokens_per_time_step == 1:
        return "the recurrent loop, one time step per token"
    return (
        f"a strided convolution, then the recurrent loop, one time step per "
        f"{tokens_per_time_step} tokens"
    )


# sections the full run measures too, whose figures the page takes from the quick run
SHOWN_FROM_THE_QUICK_RUN = ("ingest", "cold_start")


@bench_or_note("")
def bench_machine(b: dict) -> str:
    """The machine, and when each section was measured with which matmul peak."""
    lines = [
        prose(
            f"Machine: {b['cpus']} CPU cores ({b['machine']}), {b['gpus']} GPUs. Each "
            "section was measured in its own run, on machines of this kind whose speed "
            "varies, so each gives the matmul peak measured with it:"
        )
    ]
    for section, when in b.get("measured", {}).items():
        if section in SHOWN_FROM_THE_QUICK_RUN:
            continue
        at = f" at {when['commit']}" if when.get("commit") else ""
        lines.append(
            f"- {section}: measured on {when['date']}{at}, float32 matmul peak "
            f"{num(when['matmul_peak_gflops'])} GFLOP/s"
        )
    lines.append(
        f"- {' and '.join(SHOWN_FROM_THE_QUICK_RUN)}: shown from the quick run (the headline "
        "numbers above)"
    )
    return "\n".join(lines)


@bench_or_note("training")
def bench_training(b: dict) -> str:
    """Each side's training speed, epochs, accuracy, padding and FLOP/s, per max_len."""
    first = b["training"][0]
    head = (
        prose(
            f"{first['reviews']:,} training-part reviews, at most {first['max_epochs']} "
            f"epochs, {first['rounds']} rounds per side; the train stage's batch size is "
            f"{first['stage_batch_size']}, its thread pools {first['stage_threads']}."
        )
        + "\n\n"
    )
    rows = []
    for r in b["training"]:
        for side in ("tutorial", "tutorial_our_batch", "pipeline"):
            x = r[side]
            rows.append(
                [
                    r["max_len"],
                    side,
                    f"{speed(x['reviews_per_s'])} ({runs(x['reviews_per_s_runs'])})",
                    f"{x['epochs_run']} ({x['best_epoch']})",
                    ", ".join(num(v) for v in x["val_accuracy"]),
                    x["test_accuracy"],
                    pct(x["padding_share"]),
                    num(x["useful_flops_pct_of_peak"], 1),
                ]
            )
    return head + table(
        [
            "max_len",
            "side",
            "reviews/s (rounds)",
            "epochs (best)",
            "val accuracy per epoch",
            "test acc",
            "padding",
            "FLOP/s % peak",
        ],
        rows,
    )


def stalls(row: dict) -> str | None:
    """Which side stalled in which round (an epoch over the suite's bound on its round's
    median epoch), "none", or None for a result file older than the stall record."""
    sides = ("tutorial", "tutorial_our_batch", "pipeline")
    if not all("stalled_epochs_runs" in row.get(side, {}) for side in sides):
        return None
    found = [
        f"{side}, round {i}"
        for side in sides
        for i, epochs in enumerate(row[side]["stalled_epochs_runs"], start=1)
        if epochs
    ]
    return "; ".join(found) or "none"


@bench_or_note("training", dated=False)
def bench_speedup(b: dict) -> str:
    """The pipeline's speedup over the tutorial way, per max_len, with each round's."""
    rows = [
        [
            r["max_len"],
            f"{num(r['speedup'], 2)}x ({', '.join(num(s, 2) + 'x' for s in r['speedup_runs'])})",
            same_batch_speedup(r),
            f"{num(r['pipeline']['test_accuracy'])} vs {num(r['tutorial']['test_accuracy'])}",
            stalls(r),
        ]
        for r in b["training"]
    ]
    return table(
        [
            "max_len",
            "pipeline over tutorial (rounds)",
            "over tutorial at the stage's batch (rounds)",
            "test acc: pipeline vs tutorial",
            "a side stalled (an epoch over 1.5x its round's median)",
        ],
        rows,
    )


@bench_or_note("settings")
def bench_settings(b: dict) -> str:
    """The default model's training speed under each batch size, thread pools and XLA."""
    first = b["settings"][0]
    head = (
        prose(
            f"The default model on {first['reviews']:,} reviews for {first['epochs']} epochs "
            "under each setting."
        )
        + "\n\n"
    )
    rows = [
        [
            r["batch_size"],
            str(r["jit_compile"]).lower(),
            r["threads"],
            f"{speed(r['reviews_per_s'])} ({runs(r['reviews_per_s_runs'])})",
        ]
        for r in b["settings"]
    ]
    return head + table(
        ["batch size", "XLA (jit_compile)", "thread pools (inter, intra)", "reviews/s (rounds)"],
        rows,
    )


@bench_or_note("stages")
def bench_stages(b: dict) -> str:
    """Each stage's wall time and peak memory; the train stage's epochs, as Keras timed them."""
    rows = [[stage_name(r), num(r["seconds"], 1), num(r["peak_mib"], 0)] for r in b["stages"]]
    return table(["stage", "wall time, s", "peak memory, MiB"], rows)


def stage_name(r: dict) -> str:
    """A stage's row name: train's with its epochs, and each epoch's time where recorded."""
    if "epochs" not in r:
        return r["stage"]
    name = f"{r['stage']} ({r['epochs']} epoch{'s' if r['epochs'] != 1 else ''}"
    if r.get("epoch_seconds"):
        epochs = ", ".join(
            f"{num(s)} s at {num(ms)} ms a step"
            for s, ms in zip(r["epoch_seconds"], r["ms_per_step"], strict=True)
        )
        name += f": {epochs}"
    return name + ")"


@bench_or_note("inference")
def bench_inference(b: dict) -> str:
    """Batch scoring the CLI's way and the default way, and one review's latency."""
    i = b["inference"]
    rows = [
        [
            f"{i['reviews']:,} test reviews, CLI's way ({i['workers']} batches at once)",
            f"{speed(i['batch_reviews_per_s'])} reviews/s "
            f"(best of {runs(i['batch_reviews_per_s_runs'])})",
        ],
        [
            "the same, 1 batch at a time, default thread pools",
            f"{runs(i['default_threads_1_worker_reviews_per_s_runs'])} reviews/s",
        ],
        [
            f"one review per call, warm process ({i['single_reviews']} calls)",
            f"p50 {num(i['single_p50_ms'], 1)} ms, p99 {num(i['single_p99_ms'], 1)} ms",
        ],
    ]
    return table(["measurement", "result"], rows)


@bench_or_note("pinning", dated=False)  # its prose says when
def bench_pinning(b: dict) -> str:
    """What the reproducibility pins cost: training and the SVD, pinned against native."""
    k = b["pinning"]
    pins = ", ".join(f"`{name}={value}`" for name, value in k["pinned_env"].items())
    head = (
        prose(
            f"Measured on {b.get('measured', {}).get('pinning', {}).get('date', 'an unrecorded day')}: the default model on "
            f"{k['reviews']:,} reviews for {k['epochs']} epochs with the stage launcher's "
            f"pins ({pins}) and without them, and the word vectors' SVD on one BLAS thread "
            f"and on the machine's default; fresh processes, {k['rounds']} rounds per "
            "side."
        )
        + "\n\n"
    )
    rows = [
        [
            "training, reviews/s (rounds)",
            f"{speed(k['pinned']['train_reviews_per_s'])} ({runs(k['pinned']['train_reviews_per_s_runs'])})",
            f"{speed(k['native']['train_reviews_per_s'])} ({runs(k['native']['train_reviews_per_s_runs'])})",
            f"{num(k['train_speed_ratio'], 3)}x speed",
        ],
        [
            "SVD, seconds (rounds)",
            f"{num(k['pinned']['svd_seconds'], 2)} ({runs(k['pinned']['svd_seconds_runs'])})",
            f"{num(k['native']['svd_seconds'], 2)} ({runs(k['native']['svd_seconds_runs'])})",
            f"{num(k['svd_time_ratio'], 3)}x time",
        ],
    ]
    return head + table(["measurement", "pinned", "native", "pinned / native"], rows)


@bench_or_note("quick")
def bench_quick(b: dict) -> str:
    """The headline numbers of `make bench-quick` against their goals, and where an epoch
    goes."""
    q = b["quick"]
    g, c, i, t = q["ingest"], q["cold_start"], q["inference"], q["training"]
    at = f" at {q['commit']}" if q.get("commit") else ""
    head = (
        prose(
            f"`make bench-quick` on {q['date']}{at}: {q['cpus']} CPU cores ({q['machine']}), "
            f"{q['gpus']} GPUs; {q['minutes']} minutes in all. Each figure is the median "
            "over fresh processes (inference: the best), every round in brackets; the "
            f"training ratio is measured on {t['reviews']:,} training-part reviews at "
            f"max_len {t['max_len']} for at most {t['max_epochs']} epochs, the sides "
            "taking turns. On so small a slice the accuracies only show that both sides "
            "learn; the full run below compares them."
        )
        + "\n\n"
    )
    rows = [
        [
            "ingest, full archive: wall time",
            f"{num(g['seconds'], 2)} s ({runs(g['seconds_runs'])})",
            "at most 5 s",
            met(g["seconds"] <= 5),
        ],
        [
            "ingest: peak memory",
            f"{num(g['peak_mib'], 0)} MiB ({runs(g['peak_mib_runs'])})",
            "at most 600 MB",
            met(g["peak_mib"] * 2**20 <= 600e6),
        ],
        [
            '`imdb-sentiment predict "<one review>"` from a cold start: wall time',
            f"{num(c['seconds'], 2)} s ({runs(c['seconds_runs'])})",
            "at most 4 s",
            met(c["seconds"] <= 4),
        ],
        [
            "the same: peak memory",
            f"{num(c['peak_mib'], 0)} MiB ({runs(c['peak_mib_runs'])})",
            "",
            "",
        ],
        [
            f"the command line on {c['identity_reviews']:,} test reviews against the evaluate "
            "stage's predictions.csv: largest difference",
            f"{c['max_abs_diff_vs_evaluate']:.1e}",
            "at most 1e-6",
            # both files round to 6 decimals: one last digit apart reads 1e-6 plus float noise
            met(c["max_abs_diff_vs_evaluate"] <= 1e-6 + 1e-12),
        ],
        [
            f"batch scoring, {i['reviews']:,} test reviews, the CLI's way",
            f"{speed(i['batch_reviews_per_s'])} reviews/s (best of {runs(i['batch_reviews_per_s_runs'])})",
            "at least 2,000 reviews/s",
            met(i["batch_reviews_per_s"] >= 2000),
        ],
        [
            f"training at max_len {t['max_len']}: pipeline over the tutorial way",
            f"{num(t['speedup'], 2)}x ({', '.join(num(x, 2) + 'x' for x in t['speedup_runs'])})",
            "at least 3x in every round",
            met(min(t["speedup_runs"]) >= 3),
        ],
        [
            "the same, over the tutorial at the train stage's batch size",
            same_batch_speedup(t),
            "at least 2x in every round",
            met(min(same_batch_rounds(t)) >= 2),
        ],
        [
            "test accuracy: pipeline vs tutorial way",
            f"{num(t['pipeline']['test_accuracy'])} vs {num(t['tutorial']['test_accuracy'])}",
            "equal or better",
            met(t["pipeline"]["test_accuracy"] >= t["tutorial"]["test_accuracy"]),
        ],
    ]
    if "stalled_sides" in t:
        rows += [
            [
                "reviews/s over the rounds: pipeline; tutorial; tutorial at the stage's batch size",
                "; ".join(
                    f"{speed(t[side]['spread'][0])}-{speed(t[side]['spread'][1])}"
                    for side in ("pipeline", "tutorial", "tutorial_our_batch")
                ),
                "",
                "",
            ],
            [
                "sides with a stalled epoch (over 1.5x its round's median epoch)",
                ", ".join(t["stalled_sides"]) or "none",
                "none: else that round's ratio measures the machine",
                met(not t["stalled_sides"]),
            ],
        ]
    text = head + table(["measurement", "result (rounds)", "goal", "met"], rows)
    if f := q.get("profile"):
        text += (
            "\n\n"
            + prose(
                f"Where a training epoch goes (the default network's architecture, {f['reviews']:,} "
                f"reviews at max_len {f['max_len']}, {f['batches']} batches of {f['batch_size']}): "
                f"train steps on batches of T real tokens (T = {', '.join(map(str, f['lengths']))}) "
                f"took {', '.join(num(x, 1) for x in f['step_ms'])} ms: {num(f['per_step_ms'], 1)} ms "
                f"per step that does not grow with length, then {num(f['per_token_ms'], 3)} ms "
                f"per token in the sequence layers ({stride_words(f['tokens_per_time_step'])}). "
                f"They do their matrix products at {num(f['token_gflops'], 1)} GFLOP/s, against a "
                f"measured matmul peak of {num(f['matmul_peak_gflops'], 1)}."
            )
            + "\n\n"
            + table(
                ["part of one epoch", "seconds"],
                [
                    [
                        "the sequence layers (tokens x per-token cost)",
                        num(f["sequence_seconds"], 1),
                    ],
                    [
                        "per-step cost (dispatch, optimizer, head) x steps",
                        num(f["per_step_seconds"], 1),
                    ],
                    ["the rest (input pipeline, callbacks, Python)", num(f["rest_seconds"], 1)],
                    ["the whole epoch", num(f["epoch_seconds"], 1)],
                    [
                        "the input pipeline alone, iterated without a model",
                        num(f["input_pipeline_seconds"], 1),
                    ],
                ],
            )
        )
    return text
