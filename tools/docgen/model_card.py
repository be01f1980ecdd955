"""The model card (docs/model-card.md, models/model-card.md) of the committed model."""

from __future__ import annotations

from .formatting import missing, prose, table
from .readme import model_summary
from .robustness import robustness
from .sources import DATA, EVAL, MODEL_PARAMS, ROBUSTNESS, Sources


def model_card(src: Sources) -> str:
    """A model card (Mitchell et al. 2019) of the committed model, from the committed results."""
    params, ev, rob, data = src.get(MODEL_PARAMS), src.get(EVAL), src.get(ROBUSTNESS), src.get(DATA)
    if params is None or ev is None:
        return missing(src.path(MODEL_PARAMS if params is None else EVAL), "no model card")
    t, fit = params["train"], params.get("fit", {})
    counts = (data or {}).get("counts", {})
    sections = [
        "### Model details",
        model_summary(src),
        f"Trained by the train stage of this repository (`dvc repro`), seed {params['seed']}; "
        "raw review text in, P(positive) out; Keras 3 on TensorFlow. Licence: MIT.",
        "### Intended use",
        prose(
            "Scoring the sentiment of English movie reviews, and teaching how a reproducible "
            "text-classification pipeline is built. Not for decisions about people, for "
            "moderation, or for text far from reviews without checking it there first."
        ),
        "### Factors",
        prose(
            "Review length (the model reads the "
            f"{params.get('preprocess', {}).get('keep_tokens', 'last')} "
            f"{params.get('preprocess', {}).get('max_len', '?')} tokens), negation and "
            "contrast, short texts, and text that is not a movie review: the robustness "
            "checks below measure each."
        ),
        "### Metrics",
        prose(
            "Accuracy, F1, ROC AUC and expected calibration error on the official test set; "
            "behavioural pass rates per capability, accuracy on minimally edited contrast "
            "passages and on single sentences (`metrics/robustness.json`)."
        ),
        "### Evaluation data",
        prose(
            f"The {counts.get('test_pos', 0) + counts.get('test_neg', 0):,} official IMDb test reviews (Maas et al. 2011); "
            "the hand-made checks in `checks/` and the behavioural suite "
            "(`imdb_sentiment.evaluation.behaviour`)."
        ),
        "### Training data",
        prose(
            f"The {counts.get('train_pos', 0) + counts.get('train_neg', 0):,} labelled "
            f"training reviews"
            + (
                f" and the {fit['unlabeled_reviews']:,} unlabeled ones, "
                f"labelled by the `{t['teacher']}` teacher"
                if "unlabeled_reviews" in fit
                else ""
            )
            + (
                f"; {fit['negation_pairs']:,} short sentences of the labelled reviews, each "
                "beside a copy with its verdict negated by rule and its label flipped"
                if fit.get("negation_pairs")
                else ""
            )
            + "; no other data."
        ),
        "### Quantitative analyses",
        table(
            ["measure", "value"],
            [
                ["test accuracy", ev["accuracy"]],
                ["test F1", ev["f1"]],
                ["test ROC AUC", ev["roc_auc"]],
                ["test ECE", ev.get("ece")],
            ],
        ),
        robustness(src) if rob else "",
        "### Ethical considerations",
        prose(
            "IMDb reviewers are not a sample of all people; the model learns their vocabulary "
            "and their topics, including the biases of film criticism. Scores on names or "
            "identity terms have not been audited."
        ),
        "### Caveats and recommendations",
        prose(
            "Accuracy drops on short and out-of-domain text and on minimal edits (see the "
            "checks): check the model on your own text before relying on it."
        ),
    ]
    return "\n\n".join(s for s in sections if s)
