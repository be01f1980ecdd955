"""Shared builders of the tests: tiny archives, params files and reviews; paths of the checkout."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKS = REPO / "checks"  # the hand-made check sets the evaluate stage scores (read only)

POSITIVE = ["great", "wonderful", "brilliant", "loved", "superb", "moving", "excellent"]
NEGATIVE = ["awful", "terrible", "boring", "hated", "worst", "dull", "waste"]
NEUTRAL = [
    "the",
    "movie",
    "film",
    "plot",
    "actor",
    "scene",
    "story",
    "it",
    "was",
    "and",
    "a",
    "director",
    "ending",
    "music",
    "character",
]


NOT_REGULAR_FILES = ("device", "pipe", "directory")


def not_a_regular_file(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A path of `kind` (see NOT_REGULAR_FILES) that a bounded read must name without
    reading it (/dev/zero never ends, a pipe without a writer never answers), and the words
    it is named with."""
    if kind == "directory":
        return tmp_path, "is a directory"
    if kind == "device":
        return Path("/dev/zero"), "is not a regular file"
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path, "is not a regular file"


def review_text(rng: random.Random, label: str) -> str:
    """A synthetic review: neutral filler with sentiment words, HTML breaks sometimes."""
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(8, 40))]
    cue = POSITIVE if label == "pos" else NEGATIVE if label == "neg" else POSITIVE + NEGATIVE
    for _ in range(rng.randint(2, 5)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
    text = " ".join(words).capitalize() + "."
    if rng.random() < 0.5:
        text = text.replace(" ", " <br /><br /> ", 1)
    return text


def add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def build_archive(
    path: Path,
    per_class: int = 40,
    unsup: int = 10,
    seed: int = 0,
    movies_per_class: int = 10,
    extra=None,
    replaced: dict[str, bytes] | None = None,
) -> Path:
    """Write a gzipped tar in the aclImdb v1 layout; `replaced` maps member names to the
    bytes they hold instead, and `extra(tar)` may add members."""
    rng = random.Random(seed)
    replaced = replaced or {}

    def add(name: str, data: bytes) -> None:
        add_file(archive, name, replaced.get(name, data))

    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        add_file(archive, "aclImdb/README", b"tiny test archive\n")
        for split in ("train", "test"):
            kinds = ("pos", "neg", "unsup") if split == "train" else ("pos", "neg")
            for kind in kinds:
                count = unsup if kind == "unsup" else per_class
                urls = []
                for review_id in range(count):
                    if kind == "pos":
                        rating = rng.randint(7, 10)
                    elif kind == "neg":
                        rating = rng.randint(1, 4)
                    else:
                        rating = 0
                    text = review_text(rng, kind)
                    add(f"aclImdb/{split}/{kind}/{review_id}_{rating}.txt", text.encode("utf-8"))
                    movie = 1000 * (split == "test") + review_id % movies_per_class
                    urls.append(f"http://www.imdb.com/title/tt{movie:07d}/usercomments")
                add(f"aclImdb/{split}/urls_{kind}.txt", ("\n".join(urls) + "\n").encode())
        if extra is not None:
            extra(archive)
    return path


TINY_PARAMS = {
    "seed": 7,
    "ingest": {"expected_per_class": 40},
    "preprocess": {
        "val_fraction": 0.2,
        "vocab_size": 100,
        "max_len": 32,
        "min_count": 1,
        "pretrain_dim": 8,
    },
    # distillation, the final fit on validation, adversarial training and negation pairs
    # (the defaults) have their own tests; the other tiny runs train plainly on the training
    # part's labels only, and validate
    "train": {
        "units": [8],
        "embedding_dim": 8,
        "word_pair_buckets": 64,
        "word_pair_dim": 4,
        "conv_filters": 8,
        "epochs": 1,
        "batch_size": 16,
        "distill_unlabeled": False,
        "fit_on_validation": False,
        "adversarial_epsilon": 0.0,
        "negation_pairs": False,
    },
}


def tiny_network(**changes):
    """A small classifier architecture with every part of the default one (word pairs, a
    convolution, both directions, dropout) spelled out here, not read from params.yaml;
    `changes` override fields (lists become tuples)."""
    from imdb_sentiment.modeling.zoo import Network

    fields = {
        "model": "gru",
        "bidirectional": True,
        "units": (4,),
        "activation": "tanh",
        "embedding_dim": 4,
        "mask_padding": True,
        "embedding_dropout": 0.1,
        "word_pair_buckets": 64,
        "word_pair_dim": 2,
        "conv_filters": 8,
        "conv_width": 3,
        "conv_stride": 1,
        "pooling": "max",
        "dropout": 0.1,
        "dense_units": (),
    }
    fields |= {
        key: tuple(value) if isinstance(value, list) else value for key, value in changes.items()
    }
    return Network(**fields)


def tiny_fit(**changes):
    """Fit settings for unit tests, spelled out here: one epoch of batches of 16, no
    adversarial training; `changes` override fields."""
    from imdb_sentiment.modeling.fitting import FitSettings

    fields = {
        "epochs": 1,
        "batch_size": 16,
        "learning_rate": 0.001,
        "bucket_by_length": True,
        "jit_compile": False,
        "distribute": "none",
        "mixed_precision": "none",
        "adversarial_epsilon": 0.0,
    }
    return FitSettings(**(fields | changes))


def project_params(section: str, **overrides):
    """A section of the repository's params.yaml as its dataclass, with `overrides`."""
    from imdb_sentiment.core import params as P

    return P.from_dict(section, {**P.read_yaml(REPO / "params.yaml")[section], **overrides})


def write_params(path: Path, overrides: dict | None = None, archive: str | None = None) -> Path:
    """A params.yaml for tiny runs: the repo's own file with tiny overrides merged in."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in {**TINY_PARAMS, **(overrides or {})}.items():
        if isinstance(values, dict):
            params.setdefault(section, {}).update(values)
        else:
            params[section] = values
    if archive is not None:
        params["ingest"]["archive"] = archive
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


# Shared by several test modules --------------------------------------------------------


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], cwd, check)


def make_repo(root: Path, archive: Path, overrides: dict | None = None) -> Path:
    """A git + DVC repository holding this project's pipeline and a given archive."""
    root.mkdir(parents=True)
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(
        REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    shutil.copytree(CHECKS, root / "checks")
    (root / "data" / "raw").mkdir(parents=True)
    shutil.copy(archive, root / "data" / "raw" / "aclImdb_v1.tar.gz")
    write_params(root / "params.yaml", overrides)
    run(["git", "init", "-q"], root)
    dvc("init", "-q", cwd=root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "pipeline"], root)
    return root


FIRST_REPRO = "first_repro.txt"  # beside the `reproduced_repo` fixture's repository


def copy_repo(source: Path, dest: Path) -> Path:
    """A copy of a repository from `make_repo` (git history, DVC cache, outputs) to change
    while the original stays as it was."""
    shutil.copytree(source, dest, symlinks=True)
    return dest


def repro_and_commit(repo: Path, message: str) -> subprocess.CompletedProcess:
    """`dvc repro`, then commit everything it changed; returns the repro's result."""
    reproduced = dvc("repro", cwd=repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)
    return reproduced


def train_on_tiny_data(
    tiny_pipeline: dict[str, Path], tmp_path: Path, train_params: dict
) -> tuple[Path, Path]:
    """The train stage on the tiny pipeline's data with these train params: (params, model)."""
    from imdb_sentiment.pipeline import train

    params = write_params(tmp_path / "params.yaml", {"train": train_params})
    model = tmp_path / "models" / "model.keras"
    cwd = os.getcwd()
    os.chdir(tiny_pipeline["root"])  # DVCLive looks for a git/DVC repo from the working directory
    try:
        train.main(
            [
                "--params",
                str(params),
                "--data",
                str(tiny_pipeline["processed"]),
                "--model",
                str(model),
                "--live",
                str(tmp_path / "live"),
            ]
        )
    finally:
        os.chdir(cwd)
    return params, model


def small_model(path: Path) -> Path:
    """A tiny end-to-end model, raw strings in, P(positive) out, saved as .keras."""
    import keras

    keras.utils.set_random_seed(0)
    vectorizer = keras.layers.TextVectorization(
        max_tokens=20, output_sequence_length=8, vocabulary=["good", "bad", "film", "plot"]
    )
    inputs = keras.Input(shape=(), dtype="string")
    hidden = keras.layers.Embedding(20, 4)(vectorizer(inputs))
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    outputs = keras.layers.Dense(1, activation="sigmoid")(hidden)
    keras.Model(inputs, outputs).save(path)
    return path


# what a fresh clone lacks until `dvc pull`
CLONE_LACKS = ("models/model.keras", "data/processed/vocab.txt", "data/raw/aclImdb_v1.tar.gz")


def clone(origin: Path, target: Path) -> Path:
    """A fresh git clone: the pipeline, params, dvc.lock and metrics, but no cache or outputs."""
    run(["git", "clone", "-q", str(origin), str(target)], origin.parent)
    assert not any((target / path).exists() for path in CLONE_LACKS)
    return target
