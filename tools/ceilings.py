"""Validation ceilings: how far the n-gram teachers, the committed network and their average go.

    python tools/ceilings.py        # needs the pipeline's outputs (`make run`); writes metrics/ceilings.json

Everything is scored on the movie-disjoint validation split only; the teachers
are fitted on the training part, as the train stage fits its teacher. The
average of the teacher and the committed network is what a second round of
self-training would learn from: its accuracy bounds what such a round can
teach. The table in docs/results.md is generated from the JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "metrics" / "ceilings.json"


def main() -> int:
    from imdb_sentiment import startup

    startup.pin_kernels()
    import numpy as np

    import imdb_sentiment
    from imdb_sentiment import baseline, processed
    from imdb_sentiment import params as P
    from imdb_sentiment.processed import split_texts

    cfg = P.load("train", ROOT / P.PARAMS_FILE)
    seed = P.load_seed(ROOT / P.PARAMS_FILE)
    data_dir = ROOT / "data" / "processed"
    vocab_size = len(processed.load_vocabulary(data_dir)) + 2
    data = {name: processed.load_split(data_dir, name, vocab_size) for name in ("train", "val")}
    texts = split_texts(ROOT / "data" / "interim" / "reviews.parquet", data)
    labels = data["val"].labels

    def accuracy(probs: np.ndarray) -> float:
        return round(float(((probs >= 0.5) == labels).mean()), 6)

    rows, teacher = [], {}
    for ngrams in (2, 3):
        started = time.perf_counter()
        model = baseline.fit_nb(texts["train"], data["train"].labels, ngrams, cfg.logreg_c, seed)
        teacher[ngrams] = model.predict_proba(texts["val"])
        rows.append({"name": f"nb_logreg, word 1-{ngrams}-grams (teacher)",
                     "val_accuracy": accuracy(teacher[ngrams]),
                     "seconds": round(time.perf_counter() - started, 1)})
    started = time.perf_counter()
    network = imdb_sentiment.predict(texts["val"], model=ROOT / "models" / "model.keras")
    rows.append({"name": "the committed network (models/model.keras)",
                 "val_accuracy": accuracy(network),
                 "seconds": round(time.perf_counter() - started, 1)})
    for weight in (0.5, 0.7):
        rows.append({"name": f"{weight} x teacher (1-{cfg.teacher_ngrams}-grams) + "
                             f"{round(1 - weight, 1)} x network",
                     "val_accuracy": accuracy(weight * teacher[cfg.teacher_ngrams]
                                              + (1 - weight) * network)})
    result = {"val_reviews": len(labels), "rows": rows}
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
