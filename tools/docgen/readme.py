"""The README's blocks: the model in one sentence, the headline numbers, the spread over seeds
and the validation noise floor (some are repeated in docs/results.md and the lab)."""

from __future__ import annotations

import math
from typing import Any

from .formatting import minutes, missing, num, prose, table
from .robustness import GOALS
from .sources import (
    BEHAVIOUR,
    BENCH,
    COUNTS,
    EVAL,
    EXPERIMENTS,
    MODEL_PARAMS,
    PREPROCESS,
    ROBUSTNESS,
    SEEDS,
    TIMINGS,
    TRAIN,
    Sources,
)


def model_summary(src: Sources) -> str:
    """One sentence on the model the committed metrics describe, from the model's params file."""
    params = src.get(MODEL_PARAMS)
    if params is None or "train" not in params:
        return missing(src.path(MODEL_PARAMS), "no description of the trained model")
    t, p = params["train"], params.get("preprocess", {})
    if t["model"] == "tfidf_logreg":
        return (
            "The committed model is the TF-IDF word n-gram + logistic regression baseline "
            f"(`train.model: tfidf_logreg`, C {num(t['logreg_c'])})."
        )
    layers = "+".join(str(u) for u in t["units"])
    parts = [
        f"{'bidirectional ' if t['bidirectional'] else ''}{t['model'].upper()}({layers})"
        f" over {t['embedding_dim']}-d embeddings"
        + (" started from PPMI-SVD word vectors" if t.get("pretrained_embeddings") else "")
        + (
            f", each followed by a {t['word_pair_dim']}-d vector for the pair (previous word, "
            f"word), hashed into {t['word_pair_buckets']:,} buckets"
            if t.get("word_pair_buckets")
            else ""
        )
        + (
            f", behind a ReLU convolution ({t['conv_filters']} filters) over windows of "
            f"{t['conv_width']} words moving {t['conv_stride']} at a time"
            if t.get("conv_filters")
            else ""
        )
    ]
    parts.append(
        f"{t['pooling']} pooling over time, dropout {num(t['dropout'])}, "
        f"Adam at {num(t['learning_rate'])}, batch {t['batch_size']}"
    )
    if p:
        parts.append(
            f"the {p['keep_tokens']} {p['max_len']} tokens of each review, "
            f"a {p['vocab_size']:,}-word vocabulary"
        )
    fit = params.get("fit", {})
    if t.get("fit_on_validation"):
        labelled = (
            fit.get("train_reviews", 0)
            - fit.get("unlabeled_reviews", 0)
            - 2 * fit.get("negation_pairs", 0)
        )
        parts.append(
            f"fitted on {f'all {labelled:,} ' if labelled > 0 else 'the '}labelled "
            "training reviews, validation's included (`train.fit_on_validation`)"
        )
    if t.get("distill_unlabeled"):
        extra = f" {fit['unlabeled_reviews']:,}" if "unlabeled_reviews" in fit else ""
        grams = f"1-{t['teacher_ngrams']}" if t["teacher"] == "nb_logreg" else "1-2"
        parts.append(
            f"also trained on the{extra} unlabeled reviews labelled by the "
            f"`{t['teacher']}` teacher (word {grams}-grams)"
        )
    if t.get("negation_pairs"):
        extra = f" {fit['negation_pairs']:,}" if "negation_pairs" in fit else ""
        parts.append(
            f"also trained on{extra} short sentences of the labelled reviews, each beside a "
            "copy with its verdict negated and its label flipped (`train.negation_pairs`)"
        )
    if t.get("adversarial_epsilon"):
        parts.append(
            "adversarial training on the word vectors (epsilon "
            f"{num(t['adversarial_epsilon'])} x a review's mean word-vector length)"
        )
    return prose("Model (`" + src.path(MODEL_PARAMS) + "`): " + "; ".join(parts) + ".")


def readme_results(src: Sources) -> str:
    """The current headline numbers."""
    ev, tr, params = src.get(EVAL), src.get(TRAIN), src.get(MODEL_PARAMS)
    fit = (params or {}).get("fit", {})
    rows: list[list[Any]] = []
    if ev is not None:
        n = (src.get(COUNTS) or {}).get("test_reviews")
        rows += [
            [f"test accuracy ({f'{n:,} ' if n else ''}official test reviews)", ev["accuracy"]],
            ["test ROC AUC", ev["roc_auc"]],
            [
                "test F1 / precision / recall",
                f"{num(ev['f1'])} / {num(ev['precision'])} / {num(ev['recall'])}",
            ],
        ]
    if tr is not None and "val_accuracy" in tr:
        n = f" ({fit['val_reviews']:,} reviews)" if "val_reviews" in fit else ""
        rows.append([f"validation accuracy{n}", tr["val_accuracy"]])
    elif (params or {}).get("train", {}).get("fit_on_validation"):
        rows.append(["validation accuracy", "learned, not scored (`train.fit_on_validation`)"])
    if "teacher_val_accuracy" in fit:
        rows.append(["teacher's validation accuracy", fit["teacher_val_accuracy"]])
    if ev is not None and "ece" in ev:
        rows.append([f"test calibration error, ECE (goal <= {num(GOALS['ece'])})", ev["ece"]])
    rob, rates = src.get(ROBUSTNESS), src.get(BEHAVIOUR)
    if rob and rates:
        weakest = min(rates, key=rates.get)
        rows += [
            [
                f"behaviour suite, weakest capability: {weakest.replace('_', ' ')} "
                f"(goal >= {num(GOALS['behaviour'])} each; all: docs/results.md)",
                rates[weakest],
            ],
            [
                f"contrast edits of test passages (goal >= {num(GOALS['contrast_edited'])}) / "
                "their originals",
                f"{num(rob['contrast_edited'])} / {num(rob['contrast_original'])}",
            ],
            ["short texts: single test-review sentences", rob["short_texts"]],
        ]
    train_log = ((src.get(TIMINGS) or {}).get("stages") or {}).get("train")
    if train_log:
        rows.append(
            [
                f"train stage ({train_log['cpus']} CPUs, `make timings` on "
                f"{train_log['finished'][:10]})",
                f"{minutes(train_log['seconds'])}, {fit.get('epochs_run', '?')} epochs",
            ]
        )
    scoring = newest_scoring(src.get(BENCH) or {})
    if scoring:
        command, run, inf = scoring
        rows.append(
            [
                f"scoring speed, CLI way ({run['cpus']} CPUs, {run['gpus']} GPUs, "
                f"`{command}` on {run.get('date', 'an unrecorded day')})",
                f"{num(inf['batch_reviews_per_s'], 0)} reviews/s",
            ]
        )
    if not rows:
        return missing(src.path(EVAL))
    return table(["measure", "value"], rows)


def seeds_summary(src: Sources) -> str:
    """Spread over training seeds, from metrics/seeds.json, or a one-line note."""
    seeds = src.get(SEEDS)
    if not seeds or not seeds.get("runs"):
        return f"Spread over seeds: not measured yet (`{SEEDS}` does not exist)."
    n = len(seeds["runs"])
    listed = ", ".join(str(r["seed"]) for r in seeds["runs"])
    val, test = seeds["val_accuracy"], seeds["test_accuracy"]
    rows = [["test accuracy", test["mean"], test["std"]]]
    if val is not None:
        rows.insert(0, ["validation accuracy", val["mean"], val["std"]])
    head = f"Spread over {n} seeds ({listed}), from `{SEEDS}`"
    if val is None:
        head += (
            "; validation is learned by the final fit (`train.fit_on_validation`), so not scored"
        )
    return prose(head + ":") + "\n\n" + table(["metric", "mean", "std"], rows)


def val_noise(src: Sources) -> str:
    """One standard error of the validation accuracy, the noise floor for choosing on it: at
    the saved model's accuracy, or, when the final fit learned validation, at the mean of
    the default's held-out runs (`held-out`, the row tries are judged against)."""
    tr, params = src.get(TRAIN) or {}, src.get(MODEL_PARAMS) or {}
    n = params.get("fit", {}).get("val_reviews")
    p, whose = tr.get("val_accuracy"), ""
    if p is None:
        held_out = [
            r["val_accuracy"]
            for r in (src.get(EXPERIMENTS) or {}).get("runs", [])
            if r["name"] == "try-held-out" or r["name"].startswith("try-held-out-seed-")
            if r["val_accuracy"] is not None
        ]
        n = (src.get(PREPROCESS) or {}).get("val", {}).get("reviews")
        if held_out:
            p = round(sum(held_out) / len(held_out), 4)
            whose = (
                " (the default's run held out, `try-held-out`)"
                if len(held_out) == 1
                else f" (the mean of the default's {len(held_out)} runs held out, `try-held-out`)"
            )
    if p is None or not n:
        return missing(src.path(TRAIN), "no validation score to compute the noise floor from")
    se = math.sqrt(p * (1 - p) / n)
    return prose(
        f"With {n:,} validation reviews at accuracy {num(p)}{whose}, one standard "
        f"error is {se * 100:.2f} points: differences smaller than that are noise."
    )


def newest_scoring(bench: dict) -> tuple[str, dict, dict] | None:
    """The newest batch-scoring measurement, the one docs/benchmarks.md shows too: `make
    bench-quick`'s (the `quick` entry) or `make bench`'s; (command, its run, the numbers)."""
    found = []
    quick = bench.get("quick") or {}
    if quick.get("inference"):
        found.append(("make bench-quick", quick, quick["inference"]))
    if bench.get("inference"):
        run = {**bench, "date": bench.get("measured", {}).get("inference", {}).get("date")}
        found.append(("make bench", run, bench["inference"]))
    return max(found, key=lambda entry: entry[1].get("date") or "", default=None)
