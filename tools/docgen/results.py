"""docs/results.md's tables of the committed model: test metrics, training, the data, the
encoded splits, and each seed's run."""

from __future__ import annotations

from .formatting import missing, pct, prose, table
from .readme import seeds_summary
from .sources import DATA, EVAL, MODEL_PARAMS, PREPROCESS, SEEDS, TRAIN, Sources


def results_test(src: Sources) -> str:
    """Every test metric of the evaluate stage."""
    ev = src.get(EVAL)
    if ev is None:
        return missing(src.path(EVAL))
    return table(["metric", "value"], [[k, v] for k, v in ev.items()])


def results_train(src: Sources) -> str:
    """The train stage's DVCLive metrics and the `fit` record of the model's params file."""
    tr, params = src.get(TRAIN), src.get(MODEL_PARAMS)
    out = []
    if tr is None:
        out.append(missing(src.path(TRAIN)))
    else:
        rows = [
            [f"validation {what}, saved model (`val_{key}`)", tr[f"val_{key}"]]
            for what, key in (("accuracy", "accuracy"), ("loss", "loss"))
            if f"val_{key}" in tr
        ]
        for part in ("train", "validation"):
            if part in tr:
                name = "training" if part == "train" else "validation"
                rows += [
                    [f"last epoch: {name} accuracy", tr[part]["accuracy"]],
                    [f"last epoch: {name} loss", tr[part]["loss"]],
                ]
        if "epoch_seconds" in tr:  # wall-clock; gone from the outputs since the run log
            rows.append(["last epoch: seconds", tr["epoch_seconds"]])
        rows.append(["epochs run (DVCLive step, from 1)", tr.get("step")])
        out.append(f"`{src.path(TRAIN)}` (DVCLive):\n\n" + table(["metric", "value"], rows))
    fit = (params or {}).get("fit")
    if fit is None:
        out.append(missing(src.path(MODEL_PARAMS), "no `fit` record"))
    else:
        out.append(
            f"`{src.path(MODEL_PARAMS)}`, key `fit`:\n\n"
            + table(["key", "value"], [[k, v] for k, v in sorted(fit.items())])
        )
    return "\n\n".join(out)


def results_data(src: Sources) -> str:
    """The ingest stage's data report: counts, duplicates, movies, lengths, checksums."""
    d = src.get(DATA)
    if d is None:
        return missing(src.path(DATA))
    rows = [[f"reviews: {k}", v] for k, v in d["counts"].items()]
    rows += [[f"duplicate texts: {k.replace('_', ' ')}", v] for k, v in d["duplicates"].items()]
    rows += [["reviews containing `<br />`", pct(d["br_share"])]]
    rows += [[f"movies: {k}", v] for k, v in d["movies"].items()]
    rows += [["movies in both train and test", d["movies_shared_train_test"]]]
    rows += [[f"words per review: {k}", v] for k, v in d["words"].items()]
    rows += [
        ["archive sha256", f"`{d['archive_sha256'][:16]}...`"],
        ["labeled-content fingerprint", f"`{d['labeled_fingerprint'][:16]}...`"],
    ]
    return table(["measure", "value"], rows)


def results_preprocess(src: Sources) -> str:
    """Each encoded split's size, balance, coverage and lengths; the vocabulary."""
    d = src.get(PREPROCESS)
    if d is None:
        return missing(src.path(PREPROCESS))
    splits = [s for s in ("train", "val", "test") if s in d]
    keys = ["reviews", "movies", "positive_share", "oov_rate", "tokens_median", "truncated_share"]
    rows = [
        [s]
        + [
            pct(d[s][k]) if k in ("positive_share", "oov_rate", "truncated_share") else d[s][k]
            for k in keys
        ]
        for s in splits
    ]
    text = table(
        [
            "split",
            "reviews",
            "movies",
            "positive",
            "out-of-vocabulary tokens",
            "median tokens",
            "truncated by max_len",
        ],
        rows,
    )
    return (
        text
        + "\n\n"
        + prose(
            f"Vocabulary: {d['vocabulary_size']:,} entries (padding and OOV "
            f"included); word vectors learned from {d['pretrain_reviews']:,} "
            "reviews."
        )
    )


def seeds_runs(src: Sources) -> str:
    """The spread over seeds, then each seed's run."""
    seeds = src.get(SEEDS)
    if not seeds or not seeds.get("runs"):
        return seeds_summary(src)
    rows = [[r["seed"], r["val_accuracy"], r["test_accuracy"]] for r in seeds["runs"]]
    return (
        seeds_summary(src)
        + "\n\nEach run:\n\n"
        + table(["seed", "validation accuracy", "test accuracy"], rows)
    )
