"""Stage 3, train: a recurrent classifier from the zoo, exported as an end-to-end text model.

Training reads preprocess's output alone and fits the network (`fitting`: length buckets,
a fixed epoch count, validation watched when held out). The saved model puts the
preprocess vectorizer in front of the network, so it takes raw review strings. An n-gram
`train.model` is fitted on the same reviews' texts by `ngram` instead.

`train.fit_on_validation` is the final fit: settings are chosen with it false, on the
validation split's scores; set, the fit also learns validation's labelled reviews, and
nothing is validated.

`train.distill_unlabeled` adds preprocess's unlabeled reviews with an n-gram teacher's
probabilities as targets (`distill`); the saved model is the network alone.
`train.inter_op_threads` and `train.intra_op_threads` size TensorFlow's thread
pools before it starts. Its matrix products split their sums by thread count, so fixed
sizes make the weights the same on machines with any number of cores; 0 leaves the size to
TensorFlow, which takes the core count.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live

from imdb_sentiment.core import params as P
from imdb_sentiment.core.artifacts import atomic_outputs, json_text, model_params_path
from imdb_sentiment.core.errors import PipelineError, exit_on_error
from imdb_sentiment.core.startup import set_thread_pools
from imdb_sentiment.data import processed
from imdb_sentiment.data.processed import Split
from imdb_sentiment.modeling import distill, negation, ngram
from imdb_sentiment.modeling.fitting import fit_settings_of, thread_pools, train
from imdb_sentiment.modeling.scaling import make_strategy
from imdb_sentiment.modeling.text import encode, make_vectorizer
from imdb_sentiment.modeling.zoo import RECURRENT, build_end_to_end, network_of


@exit_on_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=P.PARAMS_FILE)
    parser.add_argument("--data", required=True, help="preprocess output directory")
    parser.add_argument("--model", required=True, help="output end-to-end model (.keras)")
    parser.add_argument("--live", required=True, help="DVCLive directory for training curves")
    args = parser.parse_args(argv)

    cfg: P.TrainParams = P.load("train", args.params)
    if not set_thread_pools(cfg.inter_op_threads, cfg.intra_op_threads):
        print(
            "train: warning: TensorFlow was already running, so train.inter_op_threads and "
            "train.intra_op_threads were not applied",
            file=sys.stderr,
        )
    print(f"train: TensorFlow thread pools: {thread_pools()}", file=sys.stderr)
    if not (cfg.inter_op_threads and cfg.intra_op_threads):
        print(
            "train: note: with a thread pool left to TensorFlow (0), it sizes it by this "
            "machine's cores, and the trained weights may then differ in the last bits from "
            "those trained on machines with other core counts",
            file=sys.stderr,
        )
    seed = P.load_seed(args.params)
    prep, prep_seed = processed.load_config(args.data)
    vocabulary = processed.load_vocabulary(args.data)
    data = fit_splits(
        cfg,
        {
            name: processed.load_split(args.data, name, len(vocabulary) + 2)
            for name in ("train", "val")
        },
    )
    unlabeled = None
    if cfg.model in RECURRENT and cfg.distill_unlabeled:
        unlabeled = processed.load_split(args.data, processed.UNLABELED, len(vocabulary) + 2)
    embeddings = pretrained_embeddings(cfg, args.data)
    print(
        f"train: {cfg.model} on {len(data['train'])} labelled reviews, "
        + (
            f"validating on {len(data['val'])}"
            if "val" in data
            else "validation's included (train.fit_on_validation), so nothing is validated"
        ),
        file=sys.stderr,
    )
    # In a multi-worker cluster every task trains, but only the chief writes outputs
    # (the others hold identical weights); elsewhere this is always true.
    strategy = make_strategy(cfg.distribute)
    if not strategy.extended.should_checkpoint:
        _, summary = fit(cfg, seed, data, unlabeled, vocabulary, embeddings, prep, None, strategy)
        print(
            f"train: {json.dumps(summary)}; not the chief, so the chief writes the outputs",
            file=sys.stderr,
        )
        return
    # The curves are written in place epoch by epoch, so `dvc plots show` follows the fit;
    # the model and its params file are replaced together, only once training has succeeded.
    params_path = model_params_path(args.model)
    with Live(dir=str(args.live), dvcyaml=False, save_dvc_exp=False) as live:
        model, summary = fit(
            cfg, seed, data, unlabeled, vocabulary, embeddings, prep, live, strategy
        )
        live.summary.update(
            {key: summary[key] for key in ("val_accuracy", "val_loss") if key in summary}
        )
    with atomic_outputs((args.model, False), (params_path, False)) as (model_tmp, params_tmp):
        save_keras(model, model_tmp)
        record = {
            "train": P.to_dict(cfg),
            "seed": seed,
            "preprocess": {**P.to_dict(prep), "seed": prep_seed},
            "fit": summary,
        }
        params_tmp.write_text(json_text(record), encoding="utf-8")
    print(f"train: {json.dumps(summary)} -> {args.model}", file=sys.stderr)


def fit_splits(cfg: P.TrainParams, data: dict[str, Split]) -> dict[str, Split]:
    """The labelled splits the fit learns from (`train`) and scores (`val`): as they are, or
    with `cfg.fit_on_validation` one `train` split holding both and no `val`."""
    if not cfg.fit_on_validation:
        return data
    return {"train": processed.concat_splits(data["train"], data["val"])}


def pretrained_embeddings(cfg: P.TrainParams, data_dir: str | Path) -> np.ndarray | None:
    """Preprocess's word vectors when the model starts from them."""
    if not cfg.pretrained_embeddings or cfg.model not in RECURRENT:
        return None
    embeddings = processed.load_embeddings(data_dir)
    if embeddings is None:
        raise PipelineError(
            "train.pretrained_embeddings is true but preprocess wrote no word "
            "vectors: set preprocess.pretrain_dim > 0"
        )
    return embeddings


def fit(
    cfg: P.TrainParams,
    seed: int,
    data: dict[str, Split],
    unlabeled: Split | None,
    vocabulary: list[str],
    embeddings: np.ndarray | None,
    prep: P.PreprocessParams,
    live: Live | None,
    strategy: tf.distribute.Strategy,
) -> tuple[keras.Model, dict]:
    """The end-to-end text model `cfg.model` names, fitted, and its fit summary; `unlabeled`
    (the reviews to distil, for a recurrent `cfg.model` with `cfg.distill_unlabeled`)."""
    if cfg.model not in RECURRENT:  # an n-gram model
        return ngram.fit_model(
            ngram.NgramModel(cfg.model, cfg.teacher_ngrams, cfg.logreg_c), seed, data
        )
    distilled = {}
    labelled = data["train"]
    if cfg.distill_unlabeled:
        if unlabeled is None:
            raise PipelineError(
                "train.distill_unlabeled is true but no unlabeled reviews were given"
            )
        teacher = distill.fitted_teacher(
            ngram.NgramModel(cfg.teacher, cfg.teacher_ngrams, cfg.logreg_c), seed, data
        )
        taught, labelling = distill.teacher_labelled(unlabeled, teacher)
        distilled = {**teacher.summary, **labelling}
        data = {**data, "train": processed.concat_splits(data["train"], taught)}
    if cfg.negation_pairs:
        pairs, labels, summary = negation.negation_pairs(
            processed.texts_of(labelled), labelled.labels, seed
        )
        ids, offsets, _ = encode(make_vectorizer(vocabulary, ragged=True), pairs, prep.max_len)
        pair_split = Split(ids, offsets, labels, np.full(len(labels), -1, np.int32))
        data = {**data, "train": processed.concat_splits(data["train"], pair_split)}
        distilled = {**distilled, **summary}
    verbose = 1 if sys.stderr.isatty() else 2
    classifier, summary = train(
        network_of(cfg),
        fit_settings_of(cfg),
        seed,
        data,
        len(vocabulary) + 2,
        embeddings,
        live,
        verbose=verbose,
        strategy=strategy,
    )
    vectorizer = make_vectorizer(vocabulary, max_len=prep.max_len, keep=prep.keep_tokens)
    model = build_end_to_end(vectorizer, classifier)
    return model, {**summary, **distilled}


def save_keras(model: keras.Model, path: Path) -> None:
    """`model.save`, made byte-identical for identical models: Keras stamps the save time
    (entry dates, metadata.json) and Python object addresses (shared_object_id) into the
    archive, rewritten here as fixed dates and ids numbered in order of appearance."""
    model.save(path)
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for name, data in entries:
            if name == "metadata.json":
                metadata = json.loads(data)
                metadata.pop("date_saved", None)
                data = json.dumps(metadata, sort_keys=True).encode()
            elif name == "config.json":
                data = json.dumps(_renumber_shared_objects(json.loads(data), {})).encode()
            target.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def _renumber_shared_objects(node, ids: dict[int, int]):
    """`node` with every shared_object_id replaced by its rank of first appearance."""
    if isinstance(node, dict):
        return {
            key: (
                ids.setdefault(value, len(ids))
                if key == "shared_object_id"
                else _renumber_shared_objects(value, ids)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared_objects(value, ids) for value in node]
    return node


if __name__ == "__main__":
    main()
