"""Stage 4, evaluate: the end-to-end model on the official test set, raw text in, and beyond it.

Writes test metrics with the calibration error, robustness metrics from the
hand-made checks (behaviour, contrast edits, short texts: `imdb_sentiment.evaluation`)
for `dvc metrics diff`, curve data for `dvc plots diff`, PNG figures for people,
and per-review and per-check predictions for error analysis.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from tqdm import tqdm

from imdb_sentiment.core.artifacts import atomic_outputs, json_text
from imdb_sentiment.core.errors import PipelineError, exit_on_error
from imdb_sentiment.data import reviews
from imdb_sentiment.evaluation import behaviour, calibration, checksets
from imdb_sentiment.inference.defaults import DECISION_THRESHOLD, SCORING_BATCH_SIZE
from imdb_sentiment.inference.scoring import (
    SCORING_WORKERS,
    load_model,
    predict_texts,
    tune_threads,
)

MAX_CURVE_POINTS = 400
CONTRAST_SET, SHORT_TEXTS = "contrast.jsonl", "short_texts.jsonl"


def classification_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict:
    """Threshold and ranking metrics of P(positive) against 0/1 labels (calibration apart)."""
    predicted = (probs >= threshold).astype(int)
    return {
        "accuracy": skm.accuracy_score(labels, predicted),
        "precision": skm.precision_score(labels, predicted, zero_division=0),
        "recall": skm.recall_score(labels, predicted, zero_division=0),
        "f1": skm.f1_score(labels, predicted, zero_division=0),
        "roc_auc": skm.roc_auc_score(labels, probs),
    }


def thin(frame: pd.DataFrame, max_points: int = MAX_CURVE_POINTS) -> pd.DataFrame:
    """Keep at most `max_points` rows, always including the first and last."""
    if len(frame) <= max_points:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[keep]


def curves(labels: np.ndarray, probs: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    fpr, tpr, _ = skm.roc_curve(labels, probs)
    precision, recall, _ = skm.precision_recall_curve(labels, probs)
    roc = thin(pd.DataFrame({"fpr": fpr, "tpr": tpr}))
    pr = thin(pd.DataFrame({"recall": recall, "precision": precision}))
    return roc.round(5), pr.round(5)


def check_items(checks_dir: Path, test: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Every text the robustness checks score, one row each (check, group, case, text,
    expected), and how many quotes were found in the test reviews they name."""
    rows = []
    for number, case in enumerate(behaviour.behaviour_cases()):
        for text in case.texts:
            rows.append(("behaviour", case.capability, number, text, case.expected))
    contrast = checksets.read_contrast_set(checks_dir / CONTRAST_SET)
    quoted = checksets.check_quotes(
        [(p.review, p.original) for p in contrast], test, str(checks_dir / CONTRAST_SET)
    )
    for number, pair in enumerate(contrast):
        rows.append(("contrast", "original", number, pair.original, pair.original_label))
        rows.append(("contrast", "edited", number, pair.edited, 1 - pair.original_label))
    short = checksets.read_short_texts(checks_dir / SHORT_TEXTS)
    quoted += checksets.check_quotes(
        [(s.review, s.text) for s in short], test, str(checks_dir / SHORT_TEXTS)
    )
    for number, item in enumerate(short):
        rows.append(("short_texts", "sentence", number, item.text, item.label))
    return pd.DataFrame(rows, columns=["check", "group", "case", "text", "expected"]), quoted


def robustness_metrics(items: pd.DataFrame, probs: np.ndarray, threshold: float) -> dict:
    """Behaviour pass rate per capability, contrast accuracy on originals and edits, and
    short-text accuracy, from the check items' probabilities."""
    predicted = (probs >= threshold).astype(int)
    items = items.assign(label=predicted, correct=predicted == items["expected"].to_numpy())
    cases = behaviour.behaviour_cases()
    by_case = items[items["check"] == "behaviour"].groupby("case")["label"].apply(list)
    labels = [by_case[n] for n in range(len(cases))]
    rates = behaviour.behaviour_pass_rates(cases, labels)
    contrast = items[items["check"] == "contrast"]
    pairs = contrast.groupby("case")["correct"].all()
    short = items[items["check"] == "short_texts"]
    return {
        "behaviour": {name: round(rate, 4) for name, rate in rates.items()},
        "summary": {
            "behaviour_min": round(min(rates.values()), 4),
            "contrast_original": round(
                float(contrast.loc[contrast["group"] == "original", "correct"].mean()), 4
            ),
            "contrast_edited": round(
                float(contrast.loc[contrast["group"] == "edited", "correct"].mean()), 4
            ),
            "contrast_both": round(float(pairs.mean()), 4),
            "short_texts": round(float(short["correct"].mean()), 4),
        },
        "counts": {
            "behaviour_cases": len(cases),
            "contrast_pairs": int(len(pairs)),
            "short_texts": int(len(short)),
            "behaviour": {name: sum(c.capability == name for c in cases) for name in rates},
        },
    }


def save_figures(
    out: Path,
    labels: np.ndarray,
    probs: np.ndarray,
    threshold: float,
    roc: pd.DataFrame,
    pr: pd.DataFrame,
    live_dir: Path | None,
) -> None:
    """Confusion matrix (actual down the side, predicted along the bottom), ROC,
    precision-recall and learning curves (training, and validation when held out, per epoch) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    predicted = (probs >= threshold).astype(int)
    fig, ax = plt.subplots(figsize=(4, 4))
    skm.ConfusionMatrixDisplay.from_predictions(
        labels,
        predicted,
        display_labels=["negative", "positive"],
        ax=ax,
        colorbar=False,
        values_format="d",
    )
    ax.set_title("Test confusion matrix")
    fig.tight_layout()
    fig.savefig(out / "confusion_matrix.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4, 4))
    auc = skm.roc_auc_score(labels, probs)
    ax.plot(roc["fpr"], roc["tpr"], label=f"AUC {auc:.4f}")
    ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Test ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4, 4))
    ap = skm.average_precision_score(labels, probs)
    ax.plot(pr["recall"], pr["precision"], label=f"AP {ap:.4f}")
    ax.set(xlabel="recall", ylabel="precision", title="Test precision-recall", ylim=(0, 1.02))
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(out / "precision_recall.png", dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for phase in ("train", "validation"):
            tsv = live_dir / "plots" / "metrics" / phase / f"{metric}.tsv" if live_dir else None
            if tsv and tsv.is_file():
                curve = read_curve(tsv, metric)
                ax.plot(curve["step"], curve[metric], marker="o", label=phase)
        ax.set(xlabel="epoch", title=metric)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "learning_curves.png", dpi=100)
    plt.close(fig)


def read_curve(tsv: Path, metric: str) -> pd.DataFrame:
    """One learning curve that DVCLive wrote (step, metric); a damaged file is named."""
    try:
        curve = pd.read_csv(tsv, sep="\t")
        return curve[["step", metric]].astype(float)
    except (OSError, ValueError, KeyError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise PipelineError(f"{tsv} is not a learning curve: {type(err).__name__}: {err}") from None


@exit_on_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", required=True, help="table from ingest (test split used)")
    parser.add_argument("--model", required=True)
    parser.add_argument("--live", default=None, help="DVCLive directory of the train stage")
    parser.add_argument("--checks", required=True, help="directory of the hand-made check sets")
    parser.add_argument("--metrics", required=True, help="output test metrics (json)")
    parser.add_argument(
        "--robustness",
        required=True,
        help="output robustness metrics: contrast edits, short texts (json)",
    )
    parser.add_argument(
        "--behaviour",
        required=True,
        help="output behavioural pass rates, one per capability (json)",
    )
    parser.add_argument("--plots", required=True, help="output directory for curves and figures")
    args = parser.parse_args(argv)

    test = reviews.read(args.reviews, split="test")
    if test["label"].nunique() < 2:
        raise PipelineError(f"{args.reviews}: the test reviews need both classes to be scored")
    items, quoted = check_items(Path(args.checks), test)
    tune_threads()
    model = load_model(args.model)
    texts = test["text"].tolist() + items["text"].tolist()
    with tqdm(
        total=len(texts), desc="evaluate", unit=" reviews", file=sys.stderr, mininterval=2.0
    ) as bar:
        # the scoring path the CLI and the app use, so the reported speed is theirs
        scored = predict_texts(
            model, texts, SCORING_BATCH_SIZE, bar.update, workers=SCORING_WORKERS
        )
    probs, check_probs = scored[: len(test)], scored[len(test) :]
    labels = test["label"].to_numpy(int)
    reliability = calibration.reliability_table(labels, probs, DECISION_THRESHOLD)
    results = {
        k: (round(float(v), 6) if isinstance(v, float) else v)
        for k, v in classification_metrics(labels, probs, DECISION_THRESHOLD).items()
    }
    results["ece"] = round(calibration.expected_calibration_error(reliability), 6)
    robustness = robustness_metrics(items, check_probs, DECISION_THRESHOLD)
    counts = {**robustness["counts"], "quotes_found_in_test": quoted, "test_reviews": len(test)}
    roc, pr = curves(labels, probs)
    predictions = pd.DataFrame(
        {
            "id": test["id"].to_numpy(),
            "movie": test["movie"].to_numpy(),
            "actual": np.where(labels == 1, "positive", "negative"),
            "predicted": np.where(probs >= DECISION_THRESHOLD, "positive", "negative"),
            "probability": probs.round(6),
        }
    )
    checks = items.assign(probability=check_probs.round(6))
    with atomic_outputs(
        (args.plots, True), (args.metrics, False), (args.robustness, False), (args.behaviour, False)
    ) as (plots, metrics, robust, behaved):
        plots.mkdir()
        predictions.to_csv(plots / "predictions.csv", index=False)
        checks.to_csv(plots / "checks.csv", index=False)
        roc.to_csv(plots / "roc.csv", index=False)
        pr.to_csv(plots / "precision_recall.csv", index=False)
        reliability.round(6).to_csv(plots / "reliability.csv", index=False)
        save_figures(
            plots,
            labels,
            probs,
            DECISION_THRESHOLD,
            roc,
            pr,
            Path(args.live) if args.live else None,
        )
        save_reliability_figure(plots, reliability, results["ece"])
        (plots / "counts.json").write_text(json_text(counts), encoding="utf-8")
        metrics.write_text(json_text(results), encoding="utf-8")
        robust.write_text(json_text(robustness["summary"]), encoding="utf-8")
        behaved.write_text(json_text(robustness["behaviour"]), encoding="utf-8")
    print(f"evaluate: {results}", file=sys.stderr)
    print(f"evaluate: robustness {robustness['summary']}", file=sys.stderr)
    print(f"evaluate: behaviour {robustness['behaviour']}", file=sys.stderr)


def save_reliability_figure(out: Path, reliability: pd.DataFrame, ece: float) -> None:
    """Accuracy against confidence per bin, the diagonal being perfect calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0.5, 1], [0.5, 1], "k:", linewidth=0.8, label="perfect calibration")
    ax.plot(
        reliability["confidence"],
        reliability["accuracy"],
        marker="o",
        label=f"model (ECE {ece:.4f})",
    )
    ax.set(
        xlabel="confidence (mean per bin)",
        ylabel="accuracy",
        xlim=(0.5, 1.0),
        ylim=(0.0, 1.02),
        title="Test reliability",
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "reliability.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
