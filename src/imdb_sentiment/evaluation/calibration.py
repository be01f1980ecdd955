"""Calibration: does a confidence of 0.9 mean right nine times in ten?

Expected calibration error (Guo et al. 2017): the predictions are grouped by
confidence (the larger of P(positive) and P(negative)) into equal-width bins over
[0.5, 1]; the error is the mean gap between each bin's confidence and its
accuracy, weighted by the bin's share of reviews.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CALIBRATION_BINS = 10


def _checked(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, probs = np.asarray(labels), np.asarray(probs, dtype=np.float64)
    if labels.shape != probs.shape or labels.ndim != 1 or len(labels) == 0:
        raise ValueError(
            f"labels and probabilities need one matching non-empty row each, "
            f"got shapes {labels.shape} and {probs.shape}"
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not (np.isfinite(probs).all() and (probs >= 0).all() and (probs <= 1).all()):
        raise ValueError("probabilities must be finite numbers in [0, 1]")
    return labels.astype(int), probs


def reliability_table(
    labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5, bins: int = CALIBRATION_BINS
) -> pd.DataFrame:
    """Per confidence bin: its range, reviews, mean confidence and accuracy (empty bins dropped)."""
    labels, probs = _checked(labels, probs)
    predicted = (probs >= threshold).astype(int)
    confidence = np.where(predicted == 1, probs, 1.0 - probs)
    edges = np.linspace(0.5, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for b in range(bins):
        members = index == b
        if members.any():
            rows.append(
                {
                    "low": edges[b],
                    "high": edges[b + 1],
                    "reviews": int(members.sum()),
                    "confidence": float(confidence[members].mean()),
                    "accuracy": float((predicted[members] == labels[members]).mean()),
                }
            )
    return pd.DataFrame(rows, columns=["low", "high", "reviews", "confidence", "accuracy"])


def expected_calibration_error(table: pd.DataFrame) -> float:
    """Mean |confidence - accuracy| over a reliability table's bins, weighted by reviews."""
    weights = table["reviews"] / table["reviews"].sum()
    return float((weights * (table["confidence"] - table["accuracy"]).abs()).sum())
