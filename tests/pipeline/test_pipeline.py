"""The whole pipeline: stage outputs, `dvc repro` in a temporary git repository,
determinism and comparison across commits (a real slice of IMDb: tests/system/test_determinism.py)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from builders import (
    CHECKS,
    FIRST_REPRO,
    TINY_PARAMS,
    build_archive,
    copy_repo,
    dvc,
    make_repo,
    project_params,
    repro_and_commit,
    run,
    tiny_fit,
    tiny_network,
    train_on_tiny_data,
    write_params,
)

from imdb_sentiment.core.artifacts import read_json

EVAL_KEYS = {
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "ece",
}


def test_stage_mains_write_every_artifact(tiny_pipeline):
    results = read_json(tiny_pipeline["eval"])
    assert set(results) == EVAL_KEYS
    assert read_json(tiny_pipeline["eval_plots"] / "counts.json")["test_reviews"] == 120
    assert 0.0 <= results["accuracy"] <= 1.0
    plots = tiny_pipeline["eval_plots"]
    predictions = pd.read_csv(plots / "predictions.csv")
    assert len(predictions) == 120
    assert set(predictions["actual"]) == {"positive", "negative"}
    assert predictions["probability"].between(0, 1).all()
    for name in (
        "roc.csv",
        "precision_recall.csv",
        "confusion_matrix.png",
        "roc.png",
        "learning_curves.png",
    ):
        assert (plots / name).stat().st_size > 0, name
    card = read_json(tiny_pipeline["model"].with_name("model.params.json"))
    assert card["train"]["units"] == [8] and card["preprocess"]["max_len"] == 32
    assert card["fit"]["epochs_run"] >= 1
    live = tiny_pipeline["live"]
    assert (live / "plots" / "metrics" / "validation" / "loss.tsv").is_file()
    assert "val_accuracy" in read_json(live / "metrics.json")


def test_tiny_model_learns_the_synthetic_task(tiny_pipeline):
    """Synthetic reviews carry clear cue words; 6 epochs must beat chance by far."""
    assert read_json(tiny_pipeline["eval"])["accuracy"] >= 0.8


def test_model_outputs_a_probability_for_any_string(tiny_model):
    from imdb_sentiment.inference.scoring import predict_texts

    texts = [
        "",
        "   ",
        "great",
        "<script>alert(1)</script>",
        "🙂🎬",
        "awful " * 200_000,
        "Ünïcödé ревю 映画",
    ]
    probs = predict_texts(tiny_model, texts, batch_size=3)
    assert probs.shape == (len(texts),)
    assert np.all(np.isfinite(probs)) and np.all((probs >= 0) & (probs <= 1))


# --- dvc repro in a temporary git repository ------------------------------------------


@pytest.mark.slow
def test_dvc_repro_end_to_end_and_noop_second_run(reproduced_repo, tmp_path):
    first = (reproduced_repo.parent / FIRST_REPRO).read_text()
    for stage in ("fingerprint", "ingest", "preprocess", "train", "evaluate", "export"):
        assert f"Running stage '{stage}'" in first, first
    # the train stage sizes TensorFlow's pools from its params, before TensorFlow starts
    pools = project_params("train")
    assert (
        f"train: TensorFlow thread pools: {pools.inter_op_threads} inter-op, "
        f"{pools.intra_op_threads} intra-op"
    ) in first
    results = json.loads((reproduced_repo / "metrics" / "eval.json").read_text())
    assert set(results) == EVAL_KEYS
    counts = json.loads((reproduced_repo / "metrics" / "eval" / "counts.json").read_text())
    assert counts["test_reviews"] == 80
    assert (reproduced_repo / "models" / "model.keras").is_file()
    assert (reproduced_repo / "dvc.lock").is_file()
    repo = copy_repo(reproduced_repo, tmp_path / "repo")
    shown = json.loads(dvc("metrics", "show", "--json", cwd=repo).stdout)
    assert any("metrics/eval.json" in str(v) for v in shown.values())
    second = dvc("repro", cwd=repo)
    assert "Data and pipelines are up to date" in second.stdout + second.stderr
    assert "Running stage" not in second.stdout
    status = dvc("status", cwd=repo)
    assert "up to date" in status.stdout


@pytest.mark.slow
def test_stages_run_their_own_checkouts_code(tmp_path):
    """A queued experiment runs in a copy of the repo: stages must import that copy's src/,
    not the editable install's (this working tree)."""
    archive = build_archive(tmp_path / "archive.tar.gz")
    repo = make_repo(tmp_path / "repo", archive)
    module = repo / "src" / "imdb_sentiment" / "pipeline" / "ingest.py"
    # stdout: the stage launcher silences stderr while it imports (TensorFlow's C++ lines)
    module.write_text(module.read_text() + '\nprint("ran the copy of ingest.py", flush=True)\n')
    result = dvc("repro", "ingest", cwd=repo)
    assert "ran the copy of ingest.py" in result.stdout + result.stderr


@pytest.mark.slow
def test_same_params_give_identical_results(reproduced_repo, tmp_path):
    """Every digit of eval.json, the split and the vocabulary file reproduce: a second
    repository on the same archive against the session's reproduced one."""
    again = make_repo(tmp_path / "again", reproduced_repo / "data" / "raw" / "aclImdb_v1.tar.gz")
    dvc("repro", cwd=again)
    outputs = []
    for repo in (reproduced_repo, again):
        val = np.load(repo / "data" / "processed" / "val.npz")["review_ids"].tolist()
        outputs.append(
            (
                (repo / "metrics" / "eval.json").read_bytes(),
                (repo / "data" / "processed" / "vocab.txt").read_bytes(),
                val,
                (repo / "metrics" / "eval" / "predictions.csv").read_bytes(),
            )
        )
    assert outputs[0] == outputs[1]


@pytest.mark.slow
def test_metrics_params_and_plots_diff_across_commits(reproduced_repo, tmp_path):
    repo = copy_repo(reproduced_repo, tmp_path / "repo")
    write_params(
        repo / "params.yaml",
        {
            "train": {
                "units": [6],
                "embedding_dim": 8,
                "epochs": 1,
                "batch_size": 16,
                "pooling": "mean",
            }
        },
    )
    repro_and_commit(repo, "mean pooling")
    params_diff = dvc("params", "diff", "HEAD~1", "--md", cwd=repo).stdout
    assert "train.pooling" in params_diff and "mean" in params_diff
    metrics_diff = json.loads(dvc("metrics", "diff", "HEAD~1", "--json", cwd=repo).stdout)
    assert "metrics/eval.json" in metrics_diff
    assert (
        "accuracy" in metrics_diff["metrics/eval.json"]
        or "log_loss" in metrics_diff["metrics/eval.json"]
    )
    plots = dvc("plots", "diff", "HEAD~1", "-o", str(tmp_path / "plots"), cwd=repo)
    html = (tmp_path / "plots" / "index.html").read_text()
    assert "HEAD~1" in html and "workspace" in html
    assert plots.returncode == 0


@pytest.mark.slow
def test_queued_sweep_compares_experiments(reproduced_repo, tmp_path):
    """`dvc exp run --queue` with a grid, `dvc queue start`, then `dvc exp show` compares."""
    import time

    repo = copy_repo(reproduced_repo, tmp_path / "repo")
    dvc("exp", "run", "--queue", "-S", "train.model=lstm,simple_rnn", cwd=repo)
    dvc("queue", "start", "-j", "1", cwd=repo)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = dvc("queue", "status", cwd=repo).stdout
        if not any(word in status for word in ("Queued", "Running")):
            break
        time.sleep(3)
    assert status.count("Success") == 2, status
    table = dvc(
        "exp",
        "show",
        "--md",
        "--keep",
        "train.model|accuracy",
        "--drop",
        ".*",
        "--sort-by",
        "metrics/eval.json:accuracy",
        cwd=repo,
    ).stdout
    assert "lstm" in table and "simple_rnn" in table and "accuracy" in table


@pytest.mark.slow
@pytest.mark.parametrize("ngram_model", ["tfidf_logreg", "nb_logreg"])
def test_ngram_models_go_through_the_same_stages(tiny_pipeline, tmp_path, ngram_model):
    """train.model=tfidf_logreg or nb_logreg writes an end-to-end .keras model that evaluate
    scores."""
    params, model = train_on_tiny_data(
        tiny_pipeline, tmp_path, {"model": ngram_model, "fit_on_validation": False}
    )
    card = read_json(model.with_name("model.params.json"))
    assert card["train"]["model"] == ngram_model and card["fit"]["val_accuracy"] > 0.6
    # a fresh interpreter, as in `dvc repro`: loading must not rely on modules imported here
    run(
        [
            sys.executable,
            "-m",
            "imdb_sentiment.pipeline.evaluate",
            "--reviews",
            str(tiny_pipeline["reviews"]),
            "--model",
            str(model),
            "--metrics",
            str(tmp_path / "eval.json"),
            "--plots",
            str(tmp_path / "eval"),
            "--checks",
            str(CHECKS),
            "--robustness",
            str(tmp_path / "robustness.json"),
            "--behaviour",
            str(tmp_path / "behaviour.json"),
        ],
        tmp_path,
    )
    assert read_json(tmp_path / "eval.json")["accuracy"] > 0.6


@pytest.mark.parametrize("intra_op_threads, said", [(0, True), (2, False)])
def test_thread_pools_left_to_tensorflow_are_said_to_make_the_weights_machine_dependent(
    tmp_path, capsys, intra_op_threads, said
):
    """TensorFlow sizes a pool left at 0 by the core count, and its matrix products split
    their sums by thread count: the train stage says so (docs/reproducibility.md) before it
    reads any data, so a stage given no data shows it."""
    from imdb_sentiment.pipeline import train

    params = write_params(
        tmp_path / "params.yaml",
        {"train": {**TINY_PARAMS["train"], "intra_op_threads": intra_op_threads}},
    )
    with pytest.raises(SystemExit):
        train.main(
            [
                "--params",
                str(params),
                "--data",
                str(tmp_path / "absent"),
                "--model",
                str(tmp_path / "model.keras"),
                "--live",
                str(tmp_path / "live"),
            ]
        )
    assert ("trained weights may then differ" in capsys.readouterr().err) == said


@pytest.mark.slow
@pytest.mark.parametrize("teacher", ["nb_logreg", "tfidf_logreg"])
def test_distillation_trains_on_teacher_labelled_unlabeled_reviews(
    tiny_pipeline, tmp_path, teacher
):
    """train.distill_unlabeled adds the unlabeled reviews with the teacher's probabilities."""
    import keras

    from imdb_sentiment.inference.scoring import load_model

    _, model = train_on_tiny_data(
        tiny_pipeline,
        tmp_path,
        {**TINY_PARAMS["train"], "distill_unlabeled": True, "teacher": teacher},
    )
    fit = read_json(model.with_name("model.params.json"))["fit"]
    plain = read_json(tiny_pipeline["model"].with_name("model.params.json"))["fit"]
    assert fit["unlabeled_reviews"] == 10  # conftest's archive has 10 unlabeled reviews
    assert fit["train_reviews"] == plain["train_reviews"] + 10
    assert 0.0 <= fit["teacher_val_accuracy"] <= 1.0
    # the teacher only teaches: the served model is the recurrent network alone (issue 15)
    saved = load_model(model)
    assert [layer.__class__.__name__ for layer in saved.layers] == [
        "InputLayer",
        "WindowVectorization",
        "Functional",
        "Reshape",
    ]
    assert any(isinstance(layer, keras.layers.GRU) for layer in saved.get_layer(index=2).layers)


@pytest.mark.slow
def test_the_final_fit_learns_validation_and_scores_nothing_on_it(tiny_pipeline, tmp_path):
    """train.fit_on_validation: teacher and network also learn the validation split's
    labelled reviews, and no validation score is reported, since none would mean anything."""
    from imdb_sentiment.data import processed
    from imdb_sentiment.pipeline import train

    params, model = train_on_tiny_data(
        tiny_pipeline,
        tmp_path,
        {**TINY_PARAMS["train"], "distill_unlabeled": True, "fit_on_validation": True},
    )
    fit = read_json(model.with_name("model.params.json"))["fit"]
    held_out = read_json(tiny_pipeline["model"].with_name("model.params.json"))["fit"]
    assert fit["train_reviews"] == held_out["train_reviews"] + held_out["val_reviews"] + 10
    assert not {"val_accuracy", "val_loss", "val_reviews", "teacher_val_accuracy"} & set(fit)
    assert "val_accuracy" not in read_json(tmp_path / "live" / "metrics.json")
    assert not (tmp_path / "live" / "plots" / "metrics" / "validation").exists()
    run(
        [
            sys.executable,
            "-m",
            "imdb_sentiment.pipeline.evaluate",
            "--reviews",
            str(tiny_pipeline["reviews"]),
            "--model",
            str(model),
            "--live",
            str(tmp_path / "live"),
            "--metrics",
            str(tmp_path / "eval.json"),
            "--plots",
            str(tmp_path / "eval"),
            "--checks",
            str(CHECKS),
            "--robustness",
            str(tmp_path / "robustness.json"),
            "--behaviour",
            str(tmp_path / "behaviour.json"),
        ],
        tmp_path,
    )
    assert (tmp_path / "eval" / "learning_curves.png").stat().st_size > 0
    # the merged split keeps 0/1 labels, and every review's text, in order
    cfg = project_params("train", fit_on_validation=True)
    vocab_size = len(processed.load_vocabulary(tiny_pipeline["processed"])) + 2
    data = {
        name: processed.load_split(tiny_pipeline["processed"], name, vocab_size)
        for name in ("train", "val")
    }
    merged = train.fit_splits(cfg, data)
    assert list(merged) == ["train"] and merged["train"].labels.dtype == np.int8
    assert merged["train"].texts == data["train"].texts + data["val"].texts
    assert train.fit_splits(project_params("train", fit_on_validation=False), data) is data


@pytest.mark.slow
@pytest.mark.parametrize("ngram_model", ["tfidf_logreg", "nb_logreg"])
def test_ngram_models_learn_validation_in_the_final_fit(tiny_pipeline, tmp_path, ngram_model):
    """The n-gram rows follow train.fit_on_validation as the network does, so the comparison
    with them stays fair."""
    _, model = train_on_tiny_data(
        tiny_pipeline, tmp_path, {"model": ngram_model, "fit_on_validation": True}
    )
    fit = read_json(model.with_name("model.params.json"))["fit"]
    assert "val_accuracy" not in fit and "val_reviews" not in fit
    (tmp_path / "held_out").mkdir()
    held_out = read_json(
        train_on_tiny_data(
            tiny_pipeline, tmp_path / "held_out", {"model": ngram_model, "fit_on_validation": False}
        )[1].with_name("model.params.json")
    )["fit"]
    assert fit["train_reviews"] == held_out["train_reviews"] + held_out["val_reviews"]


def test_concat_splits_keeps_every_review_and_soft_labels():
    from imdb_sentiment.data.processed import Split, concat_splits

    first = Split(
        np.array([5, 6, 7], np.int32),
        np.array([0, 2, 3]),
        np.array([1, 0], np.int8),
        np.array([3, 4], np.int32),
    )
    second = Split(
        np.array([8, 9], np.int32),
        np.array([0, 1, 2]),
        np.array([0.8, 0.1], np.float32),
        np.array([-1, -1], np.int32),
    )
    both = concat_splits(first, second)
    rows = np.split(both.ids, both.offsets[1:-1])
    assert [r.tolist() for r in rows] == [[5, 6], [7], [8], [9]]
    np.testing.assert_allclose(both.labels, [1.0, 0.0, 0.8, 0.1])
    assert len(both) == 4 and both.review_ids.tolist() == [3, 4, -1, -1]


def test_training_accuracy_counts_soft_targets_by_their_side_of_one_half():
    from imdb_sentiment.modeling.layers import TargetAccuracy

    metric = TargetAccuracy()
    metric.update_state(np.array([[0.9], [0.2], [0.7]]), np.array([[0.6], [0.4], [0.3]]))
    assert float(metric.result()) == pytest.approx(2 / 3)


@pytest.mark.slow
def test_jit_compile_means_xla_although_op_determinism_is_on(monkeypatch):
    """Keras silently drops jit_compile while TensorFlow op determinism is on, which the
    train stage always turns on; train.jit_compile must still give an XLA-compiled step."""
    import keras

    from imdb_sentiment.data.processed import Split
    from imdb_sentiment.modeling import fitting

    # one batch of equal lengths: XLA compiles a step once per shape it sees
    n, length = 16, 8
    rng = np.random.default_rng(0)
    split = Split(
        rng.integers(2, 50, n * length).astype(np.int32),
        np.arange(0, (n + 1) * length, length),
        rng.integers(0, 2, n),
        np.arange(n, dtype=np.int32),
    )
    compiled = []  # the model that fit() trains: the classifier, or its adversarial wrapper
    compile_classifier = fitting.compile_classifier
    monkeypatch.setattr(
        fitting,
        "compile_classifier",
        lambda model, settings: (compiled.append(model), compile_classifier(model, settings)),
    )
    for epsilon in (0.0, 1.0):
        network = tiny_network(units=[4], embedding_dim=4)
        settings = tiny_fit(epochs=1, batch_size=16, jit_compile=True, adversarial_epsilon=epsilon)
        _, summary = fitting.train(
            network, settings, 0, {"train": split, "val": split}, 50, verbose=0
        )
        assert compiled[-1].jit_compile and np.isfinite(summary["val_loss"])
    assert type(compiled[-1]).__name__ == "AdversarialFit"

    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    plain.compile("adam", "mse", jit_compile=True)
    assert not plain.jit_compile  # Keras' own choice under op determinism, which train overrides


def random_split(n: int, max_len: int, seed: int):
    from imdb_sentiment.data.processed import Split

    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_len, n)
    return Split(
        rng.integers(2, 50, lengths.sum()).astype(np.int32),
        np.concatenate([[0], np.cumsum(lengths)]),
        rng.integers(0, 2, n),
        np.arange(n, dtype=np.int32),
    )


@pytest.mark.parametrize("n, batch_size", [(1, 4), (37, 4), (300, 16), (1000, 128), (129, 128)])
@pytest.mark.parametrize("bucket", [False, True])
def test_datasets_declare_the_batch_count_they_make(n, batch_size, bucket):
    import tensorflow as tf

    from imdb_sentiment.modeling.fitting import make_dataset

    ds = make_dataset(
        random_split(n, 60, n), batch_size, shuffle=True, seed=1, bucket_by_length=bucket
    )
    declared = int(ds.cardinality())
    assert declared > 0 and declared != tf.data.UNKNOWN_CARDINALITY
    batches = list(ds)  # assert_cardinality raises here if the declared count is wrong
    assert len(batches) == declared
    assert sum(len(y) for _, y in batches) == n


def tf_data_batches(split, batch_size: int, *, shuffle: bool, seed: int, bucket_by_length: bool):
    """The batches as tf.data's own ops make them, review by review: the definition
    `make_dataset` builds faster."""
    import tensorflow as tf

    from imdb_sentiment.modeling.fitting import bucket_boundaries

    sequences = tf.RaggedTensor.from_row_splits(split.ids, split.offsets)
    ds = tf.data.Dataset.from_tensor_slices((sequences, split.labels.astype(np.float32)))
    ds = ds.map(lambda ids, y: (tf.concat([ids, tf.zeros([1], ids.dtype)], 0), y))
    if shuffle:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    if bucket_by_length and len(split) > batch_size:
        boundaries = bucket_boundaries(split.lengths() + 1)
        return ds.bucket_by_sequence_length(
            element_length_func=lambda ids, y: tf.shape(ids)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )
    return ds.padded_batch(batch_size)


@pytest.mark.parametrize("n, batch_size", [(1, 4), (37, 4), (300, 16), (1000, 128), (129, 128)])
@pytest.mark.parametrize("bucket", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_are_tf_datas_pass_after_pass(n, batch_size, bucket, shuffle):
    import keras

    from imdb_sentiment.modeling.fitting import make_dataset

    split = random_split(n, 90, n)
    keras.utils.set_random_seed(5)
    ours = make_dataset(split, batch_size, shuffle=shuffle, seed=3, bucket_by_length=bucket)
    keras.utils.set_random_seed(5)
    reference = tf_data_batches(split, batch_size, shuffle=shuffle, seed=3, bucket_by_length=bucket)
    for _ in range(3):  # each pass (epoch) its own shuffle
        got, expected = list(ours), list(reference)
        assert len(got) == len(expected)
        for (x, y), (x_ref, y_ref) in zip(got, expected):
            assert x.dtype == x_ref.dtype
            np.testing.assert_array_equal(x.numpy(), x_ref.numpy())
            np.testing.assert_array_equal(y.numpy(), y_ref.numpy())


@pytest.mark.slow
def test_fitting_passes_over_the_data_once_per_epoch_each_with_its_own_shuffle(monkeypatch):
    """Fitted on `make_dataset`'s batches or on tf.data's own, the weights are the same
    bytes: each pass Keras starts over the data draws its shuffle when it starts."""
    from imdb_sentiment.modeling import fitting

    network = tiny_network(units=[4], embedding_dim=4, conv_filters=4)
    settings = tiny_fit(epochs=3, batch_size=16)
    data = {"train": random_split(300, 60, 1), "val": random_split(60, 60, 2)}
    ours, _ = fitting.train(network, settings, 0, data, 50, verbose=0)
    original = fitting.make_dataset

    def reference(split, batch_size, **kw):
        import tensorflow as tf

        return tf_data_batches(split, batch_size, **kw).apply(
            tf.data.experimental.assert_cardinality(len(list(original(split, batch_size, **kw))))
        )

    monkeypatch.setattr(fitting, "make_dataset", reference)
    theirs, _ = fitting.train(network, settings, 0, data, 50, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_fit_summary_describes_the_last_epoch_the_model_holds():
    """The fit runs every epoch and the summary scores the weights it returns."""
    from imdb_sentiment.modeling import fitting

    network = tiny_network(units=[4], embedding_dim=4)
    settings = tiny_fit(epochs=4, batch_size=16, adversarial_epsilon=0.0, learning_rate=0.05)
    data = {"train": random_split(200, 30, 0), "val": random_split(60, 30, 1)}
    model, summary = fitting.train(network, settings, 0, data, 50, verbose=0)
    val = fitting.make_dataset(
        data["val"], 16, shuffle=False, seed=0, bucket_by_length=settings.bucket_by_length
    )
    loss, accuracy = model.evaluate(val, verbose=0)
    assert summary["epochs_run"] == 4
    assert summary["val_loss"] == pytest.approx(loss, abs=1e-5)
    assert summary["val_accuracy"] == pytest.approx(accuracy, abs=1e-5)


@pytest.mark.slow
def test_validation_labels_cannot_change_the_fitted_model():
    """Validation is only watched: with its labels flipped, the fit returns the same weights."""
    from dataclasses import replace

    from imdb_sentiment.modeling import fitting

    network = tiny_network(units=[4], embedding_dim=4)
    settings = tiny_fit(epochs=3, batch_size=16, learning_rate=0.05, adversarial_epsilon=1.0)
    val = random_split(60, 30, 1)
    flipped = replace(val, labels=(1 - val.labels).astype(val.labels.dtype))
    fitted = [
        fitting.train(
            network, settings, 0, {"train": random_split(200, 30, 0), "val": v}, 50, verbose=0
        )[0]
        for v in (val, flipped)
    ]
    for a, b in zip(*(m.get_weights() for m in fitted)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_fitting_bucketed_batches_does_not_warn_of_running_out_of_data():
    import warnings

    from imdb_sentiment.modeling import fitting

    split = random_split(200, 40, 0)
    network = tiny_network(units=[4], embedding_dim=4)
    settings = tiny_fit(epochs=2, batch_size=16, adversarial_epsilon=0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitting.train(network, settings, 0, {"train": split, "val": split}, 50, verbose=0)
    assert not [w for w in caught if "ran out of data" in str(w.message)]
