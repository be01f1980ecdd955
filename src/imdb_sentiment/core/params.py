"""Typed parameters: one frozen dataclass per `params.yaml` section.

`params.yaml` holds every value, defaults included, with a comment for each;
the dataclasses hold only types and ranges. Unknown, missing, mistyped and
out-of-range keys are rejected with a message that names the key, so a typo in
`params.yaml` or `dvc exp run -S` never silently falls back to anything.

No value is silently changed either: a number float32 cannot hold (the model
computes in it), an integer a float cannot hold exactly, a validation share the
folds cannot make, and a YAML scalar that YAML 1.1 (this loader) and YAML 1.2
(DVC's) read differently (`010`, `1_000`, `1:30`, `yes`) are refused (`strict_yaml`).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from imdb_sentiment.core import strict_yaml
from imdb_sentiment.core.artifacts import read_limited
from imdb_sentiment.core.errors import PipelineError, one_line, shown

PARAMS_FILE = "params.yaml"
MAX_PARAMS_BYTES = 1 << 20  # the project's file is 6 KB; PyYAML parses in pure Python
FLOAT32_TINY = 2.0**-126  # the smallest normal float32: below it, bits are lost, then all
FLOAT32_MAX = (2 - 2.0**-23) * 2.0**127
# Upper bounds far above any useful value, below what breaks a library (int32 sizes,
# thread counts the OS refuses, seeds NumPy refuses).
MAX_SEED = 2**32 - 1
MAX_SIZE = 2**20
MAX_THREADS = 1024


class ParamsError(PipelineError):
    """A `params.yaml` value is missing, unknown, mistyped or out of range."""


@dataclass(frozen=True)
class IngestParams:
    archive: str
    url: str
    sha256: str
    max_member_mb: int
    max_total_mb: int
    expected_per_class: int | None
    sample_per_class: int | None

    def validate(self) -> None:
        _check(
            1 <= self.max_member_mb <= MAX_SIZE,
            "ingest.max_member_mb",
            f"an integer in [1, {MAX_SIZE}]",
        )
        _check(
            self.max_member_mb <= self.max_total_mb <= MAX_SIZE,
            "ingest.max_total_mb",
            f"an integer >= ingest.max_member_mb and <= {MAX_SIZE}",
        )
        _check(
            re.fullmatch("[0-9a-f]{64}", self.sha256) is not None,
            "ingest.sha256",
            "a sha256 as 64 lower-case hex digits (what sha256sum prints)",
        )
        _check(
            self.expected_per_class is None or 1 <= self.expected_per_class <= 2**31 - 1,
            "ingest.expected_per_class",
            "null or an integer >= 1",
        )
        _check(
            self.sample_per_class is None or 1 <= self.sample_per_class <= 2**31 - 1,
            "ingest.sample_per_class",
            "null or an integer >= 1",
        )
        # a larger sample would silently be the whole of each labelled class
        _check(
            self.sample_per_class is None
            or self.expected_per_class is None
            or self.sample_per_class <= self.expected_per_class,
            "ingest.sample_per_class",
            f"at most ingest.expected_per_class ({self.expected_per_class}), or null for "
            "every review",
        )


KeepTokens = Literal["first", "last"]


@dataclass(frozen=True)
class PreprocessParams:
    val_fraction: float
    vocab_size: int
    max_len: int
    keep_tokens: KeepTokens
    min_count: int
    pretrain_dim: int

    def validate(self) -> None:
        _check(0.0 < self.val_fraction < 0.5, "preprocess.val_fraction", "a number in (0, 0.5)")
        folds = max(2, round(1 / self.val_fraction))  # as preprocess.split_by_movie makes them
        _check(
            1 / folds == self.val_fraction,
            "preprocess.val_fraction",
            "1/k for an integer k >= 3 (validation is one of k folds of movies): "
            f"{self.val_fraction!r} would be 1/{folds} = {1 / folds!r}; "
            "e.g. 0.2, 0.25, 0.1 or 0.3333333333333333",
        )
        _check(
            3 <= self.vocab_size <= 10 * MAX_SIZE,
            "preprocess.vocab_size",
            f"an integer in [3, {10 * MAX_SIZE}]",
        )
        _check(
            1 <= self.max_len <= MAX_SIZE, "preprocess.max_len", f"an integer in [1, {MAX_SIZE}]"
        )
        _check(1 <= self.min_count <= 2**31 - 1, "preprocess.min_count", "an integer >= 1")
        _check(
            0 <= self.pretrain_dim <= 4096,
            "preprocess.pretrain_dim",
            "an integer in [0, 4096] (0 = off)",
        )


ModelType = Literal["simple_rnn", "lstm", "gru", "tfidf_logreg", "nb_logreg"]
Pooling = Literal["last", "max", "mean"]
Activation = Literal["tanh", "relu"]
Distribute = Literal["none", "mirrored", "multi_worker"]
MixedPrecision = Literal["none", "mixed_float16", "mixed_bfloat16"]
Teacher = Literal["tfidf_logreg", "nb_logreg"]


@dataclass(frozen=True)
class TrainParams:
    model: ModelType
    bidirectional: bool
    units: list[int]
    activation: Activation
    embedding_dim: int
    pretrained_embeddings: bool
    mask_padding: bool
    embedding_dropout: float
    word_pair_buckets: int
    word_pair_dim: int
    conv_filters: int
    conv_width: int
    conv_stride: int
    pooling: Pooling
    dropout: float
    dense_units: list[int]
    learning_rate: float
    batch_size: int
    epochs: int
    fit_on_validation: bool
    bucket_by_length: bool
    jit_compile: bool
    inter_op_threads: int
    intra_op_threads: int
    distribute: Distribute
    mixed_precision: MixedPrecision
    logreg_c: float
    distill_unlabeled: bool
    teacher: Teacher
    teacher_ngrams: int
    adversarial_epsilon: float
    negation_pairs: bool

    def validate(self) -> None:
        _check(
            1 <= len(self.units) <= 16 and all(1 <= u <= 4096 for u in self.units),
            "train.units",
            "a list of 1 to 16 integers in [1, 4096] (one per stacked layer)",
        )
        _check(
            len(self.dense_units) <= 16 and all(1 <= u <= 4096 for u in self.dense_units),
            "train.dense_units",
            "a list of at most 16 integers in [1, 4096]",
        )
        _check(1 <= self.embedding_dim <= 4096, "train.embedding_dim", "an integer in [1, 4096]")
        _check(0.0 <= self.dropout < 1.0, "train.dropout", "a number in [0, 1)")
        _check(0.0 <= self.embedding_dropout < 1.0, "train.embedding_dropout", "a number in [0, 1)")
        _check(
            self.word_pair_buckets == 0 or 2 <= self.word_pair_buckets <= 2**24,
            "train.word_pair_buckets",
            "0 or an integer in [2, 16777216]",
        )
        _check(1 <= self.word_pair_dim <= 4096, "train.word_pair_dim", "an integer in [1, 4096]")
        _check(
            0 <= self.conv_filters <= 4096,
            "train.conv_filters",
            "an integer in [0, 4096] (0 = no convolution)",
        )
        _check(1 <= self.conv_stride <= 16, "train.conv_stride", "an integer in [1, 16]")
        _check(
            self.conv_stride <= self.conv_width <= 64,
            "train.conv_width",
            f"an integer in [train.conv_stride ({self.conv_stride}), 64]",
        )
        _check(self.learning_rate > 0, "train.learning_rate", "a number > 0")
        _check(1 <= self.batch_size <= 2**16, "train.batch_size", f"an integer in [1, {2**16}]")
        _check(1 <= self.epochs <= 10_000, "train.epochs", "an integer in [1, 10000]")
        _check(self.logreg_c > 0, "train.logreg_c", "a number > 0")
        _check(1 <= self.teacher_ngrams <= 10, "train.teacher_ngrams", "an integer in [1, 10]")
        _check(
            0.0 <= self.adversarial_epsilon <= 10.0,
            "train.adversarial_epsilon",
            "a number in [0, 10] (0 = off)",
        )
        _check(
            0 <= self.inter_op_threads <= MAX_THREADS,
            "train.inter_op_threads",
            f"an integer in [0, {MAX_THREADS}] (0 = TensorFlow's choice)",
        )
        _check(
            0 <= self.intra_op_threads <= MAX_THREADS,
            "train.intra_op_threads",
            f"an integer in [0, {MAX_THREADS}] (0 = TensorFlow's choice)",
        )
        # layers.MaskedPooling pushes padded steps down by 1e9, which overflows float16 to
        # inf and gives NaN; bfloat16 has float32's range and is fine
        _check(
            not (
                self.mixed_precision == "mixed_float16"
                and self.pooling == "max"
                and self.mask_padding
            ),
            "train.mixed_precision",
            "'none' or 'mixed_bfloat16' with masked max pooling (float16 overflows there)",
        )


SECTIONS: dict[str, type] = {
    "ingest": IngestParams,
    "preprocess": PreprocessParams,
    "train": TrainParams,
}


def _check(ok: bool, key: str, expected: str) -> None:
    if not ok:
        raise ParamsError(f"params: '{key}' must be {expected}")


def _matches(value: Any, annotation: Any) -> bool:
    """True if a YAML value fits a (simple) type annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if origin is Literal:
        return value in typing.get_args(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and abs(value) < 1e308
            and math.isfinite(value)
        )
    return isinstance(value, annotation)


def _key_text(key: Any) -> str:
    """A key as messages show it: on one line, at most 100 characters."""
    text = one_line(str(key))
    return text if len(text) <= 100 else text[:100] + "..."


def _float_problem(value: int | float) -> str | None:
    """Why a float param would not keep its value: not exactly a float, or outside what
    float32 holds in full precision."""
    if float(value) != value:
        return f"is not exactly a float (it would become {float(value)!r})"
    if value and abs(value) < FLOAT32_TINY:
        return (
            f"underflows in float32, which the model computes in (it would lose precision "
            f"or become 0): use a number of at least {FLOAT32_TINY!r}, or 0"
        )
    if abs(value) > FLOAT32_MAX:
        return f"overflows float32, which the model computes in (at most {FLOAT32_MAX!r})"
    return None


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(annotation))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin is list:
        return f"a list of {_describe(typing.get_args(annotation)[0])}"
    if annotation is type(None):
        return "null"
    if annotation is float:
        return "a finite number"
    return getattr(annotation, "__name__", str(annotation))


def from_dict(section: str, raw: Any) -> Any:
    """Build and validate the dataclass for `section` from a mapping."""
    cls = SECTIONS[section]
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"params: '{section}' must be a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls, globalns=globals())
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(map(_key_text, set(raw) - known))
    if unknown:
        raise ParamsError(
            f"params: unknown key '{section}.{unknown[0]}' (known keys: {', '.join(sorted(known))})"
        )
    for key, value in raw.items():
        if not _matches(value, hints[key]):
            raise ParamsError(
                f"params: '{section}.{key}' must be {_describe(hints[key])}, got {shown(value)}"
            )
        if hints[key] is float and (problem := _float_problem(value)):
            raise ParamsError(f"params: '{section}.{key}' = {value!r} {problem}")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in raw]
    if missing:
        raise ParamsError(
            f"params: '{section}.{missing[0]}' is missing (every key of a section "
            "is required; the project's params.yaml lists them all)"
        )
    values = {k: (float(v) if hints[k] is float else v) for k, v in raw.items()}
    params = cls(**values)
    params.validate()
    return params


def read_yaml(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """Read the whole params file; errors name the file."""
    path = Path(path)
    try:
        content = read_limited(path, MAX_PARAMS_BYTES, "a params file")
        data = strict_yaml.load(content.decode("utf-8"))
    except ParamsError:
        raise
    except PipelineError as err:
        raise ParamsError(f"params: {err}") from None
    except FileNotFoundError:
        raise ParamsError(f"params: file not found: {path}") from None
    except UnicodeDecodeError as err:
        raise ParamsError(f"params: {path} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise ParamsError(f"params: cannot read {path}: {err.strerror or err}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        reason = " ".join(str(err).split())[:400] or type(err).__name__
        raise ParamsError(f"params: {path} is not valid YAML: {reason}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"params: {path} must hold a mapping of sections")
    return data


def load_seed(path: str | Path = PARAMS_FILE) -> int:
    """The one seed that drives splitting, shuffling and weight initialisation."""
    data = read_yaml(path)
    if "seed" not in data:
        raise ParamsError(f"params: 'seed' is missing from {path}")
    seed = data["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ParamsError(
            f"params: 'seed' must be an integer in [0, {MAX_SEED}], got {shown(seed)}"
        )
    return seed


def load(section: str, path: str | Path = PARAMS_FILE) -> Any:
    """Load one section of the params file as its typed dataclass."""
    if section not in SECTIONS:
        raise ParamsError(f"params: unknown section '{section}'")
    data = read_yaml(path)
    unknown = sorted(map(_key_text, set(data) - set(SECTIONS) - {"seed"}))
    if unknown:
        raise ParamsError(
            f"params: unknown top-level key '{unknown[0]}' (known: seed, {', '.join(SECTIONS)})"
        )
    if section not in data:
        raise ParamsError(f"params: section '{section}' is missing from {path}")
    return from_dict(section, data[section])


def to_dict(params: Any) -> dict[str, Any]:
    return dataclasses.asdict(params)
