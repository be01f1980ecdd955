"""Training beyond one device: MirroredStrategy over two logical CPUs, two local
workers under MultiWorkerMirroredStrategy, and mixed precision.

Logical devices, TF_CONFIG and collective ops must be set before TensorFlow
initialises, so each training run happens in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from builders import REPO, build_archive, write_params

from imdb_sentiment.core import startup
from imdb_sentiment.core.artifacts import read_json

# its module fixture is expensive: one worker runs the whole module (make test uses xdist)
pytestmark = pytest.mark.xdist_group("distribute")

# Splits the CPU into `cpus` logical devices, then runs the train stage's main.
TRAIN_SCRIPT = """
import sys
import tensorflow as tf
cpus = int(sys.argv[1])
if cpus > 1:
    devices = [tf.config.LogicalDeviceConfiguration()] * cpus
    tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0], devices)
import keras
from imdb_sentiment.pipeline import train
train.main(sys.argv[2:])
print("policy after training:", keras.mixed_precision.global_policy().name)
"""

# Two replicas; batches that split unevenly (9/8) or leave one replica empty (1/0).
UNEVEN_SCRIPT = """
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import sys
from dataclasses import replace
from imdb_sentiment.core import params
from imdb_sentiment.modeling import fitting
from imdb_sentiment.modeling.zoo import network_of
from imdb_sentiment.data.processed import Split
rng = np.random.default_rng(0)
def split(n):
    lengths = rng.integers(3, 20, n)
    return Split(rng.integers(1, 50, lengths.sum()).astype("int32"),
                 np.concatenate([[0], np.cumsum(lengths)]), rng.integers(0, 2, n), np.arange(n))
data = {"train": split(33), "val": split(17)}
project = params.from_dict("train", {**params.read_yaml(sys.argv[1])["train"], "units": [4],
                                       "embedding_dim": 4, "conv_filters": 4,
                                       "word_pair_buckets": 64, "word_pair_dim": 2})
network = network_of(project)
for bucket in (False, True):
    settings = replace(fitting.fit_settings_of(project), epochs=1, batch_size=16,
                       distribute="mirrored", bucket_by_length=bucket)
    model, summary = fitting.train(network, settings, 1, data, 52, verbose=0)
    assert summary["replicas"] == 2 and np.isfinite(summary["val_loss"]), summary
    print("ok", bucket)
"""

TEXTS = ["A wonderful, moving film.", "Dull and far too long.", "", "great " * 100]


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> Path:
    """A tiny archive ingested and preprocessed once for every run in this module."""
    from imdb_sentiment.pipeline import ingest, preprocess

    root = tmp_path_factory.mktemp("distribute")
    archive = build_archive(root / "aclImdb_v1.tar.gz")
    params = write_params(root / "params.yaml", archive=str(archive))
    p = ["--params", str(params)]
    ingest.main(
        p + ["--reviews", str(root / "reviews.parquet"), "--report", str(root / "data.json")]
    )
    preprocess.main(
        p
        + [
            "--reviews",
            str(root / "reviews.parquet"),
            "--out",
            str(root / "processed"),
            "--report",
            str(root / "prep.json"),
        ]
    )
    return root / "processed"


def start_training(
    run_dir: Path,
    processed: Path,
    train_overrides: dict,
    cpus: int = 1,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start the train stage in a fresh interpreter that sees no GPU."""
    from builders import TINY_PARAMS

    run_dir.mkdir(parents=True, exist_ok=True)
    params = write_params(
        run_dir / "params.yaml", {"train": {**TINY_PARAMS["train"], **train_overrides}}
    )
    cmd = [
        sys.executable,
        "-c",
        TRAIN_SCRIPT,
        str(cpus),
        "--params",
        str(params),
        "--data",
        str(processed),
        "--model",
        str(run_dir / "models" / "model.keras"),
        "--live",
        str(run_dir / "metrics" / "train"),
    ]
    # hiding GPUs makes replica counts and the CPU warning the same on every machine; the
    # kernel pins a test in this process may have set (importing the API sets them) would
    # refuse bfloat16 on a CPU
    full_env = {
        **{key: value for key, value in os.environ.items() if key not in startup.PINNED},
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "-1",
        **(env or {}),
    }
    # cwd: DVCLive looks for a git/DVC repository from the working directory
    return subprocess.Popen(
        cmd, cwd=run_dir, env=full_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def finish(proc: subprocess.Popen, timeout: float = 240) -> subprocess.CompletedProcess:
    """Wait for a training process; it must succeed."""
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()  # no-op once it has exited; a stuck worker must not outlive the test
    assert proc.returncode == 0, err
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def check_model(run_dir: Path):
    """The saved end-to-end model loads and scores any text with a float32 probability."""
    from imdb_sentiment.inference.scoring import load_model, predict_texts

    model = load_model(run_dir / "models" / "model.keras")
    probs = predict_texts(model, TEXTS)
    assert probs.shape == (len(TEXTS),)
    assert np.all(np.isfinite(probs)) and np.all((probs >= 0) & (probs <= 1))
    assert model(tf.constant(TEXTS)).dtype == tf.float32
    assert (run_dir / "metrics" / "train" / "metrics.json").is_file()
    return model


@pytest.mark.slow
def test_adversarial_training_mirrored_over_two_logical_cpus_in_bfloat16(tmp_path, processed):
    """The train stage under two replicas, with adversarial training's own step and mixed
    precision: a CPU trains in bfloat16 when asked (and says a GPU would be faster), the
    policy is restored afterwards, and the saved model scores in float32. (Plain float32
    replicas: test_mirrored_handles_uneven_and_empty_replica_batches.)"""
    run_dir = tmp_path / "mirrored"
    done = finish(
        start_training(
            run_dir,
            processed,
            {
                "distribute": "mirrored",
                "epochs": 2,
                "mixed_precision": "mixed_bfloat16",
                "adversarial_epsilon": 0.3,
            },
            cpus=2,
        )
    )
    assert "2 replica(s), global batch 32" in done.stderr
    assert "mixed_precision=mixed_bfloat16 but no GPU is visible" in done.stderr
    assert "policy after training: float32" in done.stdout
    card = read_json(run_dir / "models" / "model.params.json")
    assert card["train"]["distribute"] == "mirrored"
    assert card["fit"]["replicas"] == 2 and card["fit"]["global_batch_size"] == 32
    assert card["fit"]["epochs_run"] == 2
    assert np.isfinite(card["fit"]["val_loss"])
    check_model(run_dir)  # scored in float32: no GPU here
    import keras

    saved = keras.saving.load_model(run_dir / "models" / "model.keras", compile=False)
    classifier = saved.get_layer("bigru")
    assert classifier.get_layer("embedding").dtype_policy.name == "mixed_bfloat16"
    assert classifier.get_layer("probability").dtype_policy.name == "float32"


@pytest.mark.slow
def test_mirrored_handles_uneven_and_empty_replica_batches(tmp_path):
    """33 reviews in global batches of 32 leave a batch of 1; 17 validation reviews split 9/8."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1"}
    done = subprocess.run(
        [sys.executable, "-c", UNEVEN_SCRIPT, str(REPO / "params.yaml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "False", "ok", "True"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_multi_worker_on_localhost(tmp_path, processed):
    """Two worker processes on this machine via TF_CONFIG; only the chief writes outputs."""
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(
            start_training(
                tmp_path / f"worker{index}",
                processed,
                {"distribute": "multi_worker"},
                env={"TF_CONFIG": json.dumps(tf_config)},
            )
        )
    try:
        done = [finish(proc) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()  # a worker whose peer failed would otherwise wait for it forever
    card = read_json(tmp_path / "worker0" / "models" / "model.params.json")
    assert card["fit"]["replicas"] == 2 and card["fit"]["global_batch_size"] == 32
    check_model(tmp_path / "worker0")
    assert not (tmp_path / "worker1" / "models").exists()
    assert "not the chief" in done[1].stderr


def test_mixed_bfloat16_on_pinned_cpu_kernels_is_a_clear_error(monkeypatch):
    """With the stages' AVX2 pin, oneDNN has no bfloat16 kernels and would abort the process."""
    from imdb_sentiment.core.errors import PipelineError
    from imdb_sentiment.modeling.scaling import precision_policy

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    with pytest.raises(PipelineError, match="mixed_bfloat16 needs a GPU"):
        with precision_policy("mixed_bfloat16"):
            pass


def test_precision_policy_is_restored_and_none_is_a_no_op():
    import keras

    from imdb_sentiment.modeling.scaling import make_strategy, precision_policy

    with precision_policy("mixed_bfloat16"):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"
    with precision_policy("none"):
        assert keras.mixed_precision.global_policy().name == "float32"
    assert make_strategy("none") is tf.distribute.get_strategy()


def test_mixed_float16_with_masked_max_pooling_is_refused():
    """Masked max pooling shifts padded steps by -1e9, which is -inf in float16 (NaN loss)."""
    from builders import project_params

    from imdb_sentiment.core import params as P

    with pytest.raises(P.ParamsError, match="train.mixed_precision"):
        project_params("train", mixed_precision="mixed_float16")
    assert project_params("train", mixed_precision="mixed_float16", pooling="mean")
    assert project_params("train", mixed_precision="mixed_bfloat16")
