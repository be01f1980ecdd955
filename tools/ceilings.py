"""Validation ceilings: how far n-gram teachers go, and, when it held validation out, the
committed network and its average with the teacher.

    python tools/ceilings.py        # needs the pipeline's outputs (`make run`); writes metrics/ceilings.json

Everything is scored on the movie-disjoint validation split only; the teachers
are fitted on the training part, as the train stage fits its teacher with
validation held out. The network learns from its teacher, so a stronger teacher
is the first way up: the rows try the teacher's n-gram length and
regularisation, character n-grams beside the words, and a teacher self-trained
on the unlabeled reviews it labels confidently. The average of the teacher and
the committed network is the ceiling of an ensemble, which the project does not
serve (the served model is one recurrent network); it is left out when that
network learned validation (`train.fit_on_validation`). The table in
docs/lab/results.md is generated from the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from imdb_sentiment.core.errors import exit_on_error

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "metrics" / "ceilings.json"
SELF_TRAINING_MARGIN = 0.4  # unlabeled reviews the teacher puts at P <= 0.1 or >= 0.9
CHAR_NGRAMS = (2, 5)


@exit_on_error
def main(argv: list[str] | None = None) -> int:
    """Fit the teachers, score them and the committed network on validation, write OUT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.parse_args(argv)  # no options: --help, and a typo is refused before minutes of fitting
    from imdb_sentiment.core import startup

    startup.pin_kernels()
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    import imdb_sentiment
    from imdb_sentiment.core import params as P
    from imdb_sentiment.core.artifacts import model_params_path
    from imdb_sentiment.core.locations import pipeline_paths
    from imdb_sentiment.data import processed
    from imdb_sentiment.data.processed import texts_of
    from imdb_sentiment.modeling import ngram

    cfg = P.load("train", ROOT / P.PARAMS_FILE)
    seed = P.load_seed(ROOT / P.PARAMS_FILE)
    paths = {key: ROOT / path for key, path in pipeline_paths(ROOT).items()}
    data_dir = paths["processed"]
    vocab_size = len(processed.load_vocabulary(data_dir)) + 2
    data = {name: processed.load_split(data_dir, name, vocab_size) for name in ("train", "val")}
    texts = {name: texts_of(split) for name, split in data.items()}
    labels = data["val"].labels

    def accuracy(probs: np.ndarray) -> float:
        return round(float(((probs >= 0.5) == labels).mean()), 6)

    rows = []

    def row(name: str, probs: np.ndarray, started: float | None = None) -> np.ndarray:
        rows.append(
            {"name": name, "val_accuracy": accuracy(probs)}
            | ({"seconds": round(time.perf_counter() - started, 1)} if started else {})
        )
        return probs

    for ngrams in (2, 3):
        started = time.perf_counter()
        model = ngram.fit_nb(texts["train"], data["train"].labels, ngrams, cfg.logreg_c, seed)
        is_teacher = ngrams == cfg.teacher_ngrams
        probs = row(
            f"nb_logreg, word 1-{ngrams}-grams, C {cfg.logreg_c:g}"
            + (" (the teacher)" if is_teacher else ""),
            model.predict_proba(texts["val"]),
            started,
        )
        if is_teacher:
            teacher_model, the_teacher = model, probs
    for c in (cfg.logreg_c / 4, cfg.logreg_c * 4):
        started = time.perf_counter()
        model = ngram.fit_nb(texts["train"], data["train"].labels, cfg.teacher_ngrams, c, seed)
        row(
            f"nb_logreg, word 1-{cfg.teacher_ngrams}-grams, C {c:g}",
            model.predict_proba(texts["val"]),
            started,
        )

    started = time.perf_counter()
    unlabeled = texts_of(processed.load_split(data_dir, processed.UNLABELED, vocab_size))
    guesses = teacher_model.predict_proba(unlabeled)
    sure = np.abs(guesses - 0.5) >= SELF_TRAINING_MARGIN
    model = ngram.fit_nb(
        texts["train"] + [t for t, keep in zip(unlabeled, sure) if keep],
        np.r_[data["train"].labels, (guesses[sure] >= 0.5).astype(int)],
        cfg.teacher_ngrams,
        cfg.logreg_c,
        seed,
    )
    row(
        f"the teacher refitted with the {int(sure.sum()):,} unlabeled reviews it labels with "
        f"P >= {0.5 + SELF_TRAINING_MARGIN:g} either way",
        model.predict_proba(texts["val"]),
        started,
    )

    started = time.perf_counter()
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=CHAR_NGRAMS, min_df=2, sublinear_tf=True
    )
    logreg = LogisticRegression(C=cfg.logreg_c, solver="liblinear", random_state=seed)
    logreg.fit(chars.fit_transform(texts["train"]), data["train"].labels)
    char_probs = row(
        f"tf-idf character {CHAR_NGRAMS[0]}-{CHAR_NGRAMS[1]}-grams + logistic regression",
        logreg.predict_proba(chars.transform(texts["val"]))[:, 1],
        started,
    )
    row("0.5 x teacher + 0.5 x character model", 0.5 * the_teacher + 0.5 * char_probs)

    params = json.loads(model_params_path(paths["model"]).read_text())
    if params["train"].get("fit_on_validation"):
        print(
            "ceilings: the committed network learned validation (train.fit_on_validation), "
            "so its rows are left out",
            file=sys.stderr,
        )
    else:
        started = time.perf_counter()
        saved = imdb_sentiment.load_model(paths["model"])
        network = row(
            "the committed network (models/model.keras)",
            imdb_sentiment.predict(texts["val"], model=saved),
            started,
        )
        for weight in (0.5, 0.7):
            row(
                f"{weight} x teacher + {round(1 - weight, 1)} x network",
                weight * the_teacher + (1 - weight) * network,
            )
    result = {"val_reviews": len(labels), "rows": rows}
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
