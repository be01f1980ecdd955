"""Typed params: every key is required (params.yaml is the one place of the defaults), and
bad keys are named in the error."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from builders import NOT_REGULAR_FILES, not_a_regular_file

from imdb_sentiment.core import params as P

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("section", list(P.SECTIONS))
def test_repository_params_load(section):
    loaded = P.load(section, REPO / "params.yaml")
    assert isinstance(loaded, P.SECTIONS[section])


def complete(data: dict) -> dict:
    """`data` with each section it names filled up from the repository's params.yaml."""
    project = yaml.safe_load((REPO / "params.yaml").read_text())
    return {
        key: {**project[key], **value} if isinstance(value, dict) and key in project else value
        for key, value in data.items()
    }


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(complete(data)))
    return path


@pytest.mark.parametrize("section", list(P.SECTIONS))
def test_every_key_is_required_and_a_missing_one_is_named(tmp_path, section):
    """No default hides in the code: a section without one of its keys is refused."""
    project = yaml.safe_load((REPO / "params.yaml").read_text())
    for key in project[section]:
        partial = {name: value for name, value in project[section].items() if name != key}
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump({"seed": 1, section: partial}))
        with pytest.raises(P.ParamsError, match=f"'{section}.{key}' is missing"):
            P.load(section, path)
    assert all(
        field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        for field in dataclasses.fields(P.SECTIONS[section])
    )


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("train", {"unit": [64]}, "unknown key 'train.unit'"),
        ("train", {"units": 64}, "'train.units' must be a list of int"),
        (
            "train",
            {"model": "transformer"},
            "'train.model' must be one of 'simple_rnn', 'lstm', 'gru'",
        ),
        ("train", {"bidirectional": "yes"}, "'train.bidirectional' must be bool"),
        ("train", {"epochs": 2.5}, "'train.epochs' must be int"),
        ("train", {"dropout": 1.5}, "'train.dropout' must be a number in [0, 1)"),
        (
            "preprocess",
            {"val_fraction": 0.7},
            "'preprocess.val_fraction' must be a number in (0, 0.5)",
        ),
        (
            "ingest",
            {"sample_per_class": 0},
            "'ingest.sample_per_class' must be null or an integer >= 1",
        ),
        ("train", {"logreg_c": "high"}, "'train.logreg_c' must be a finite number"),
        ("train", {"learning_rate": float("inf")}, "'train.learning_rate' must be a finite number"),
        ("train", {"learning_rate": float("nan")}, "'train.learning_rate' must be a finite number"),
        ("train", {"logreg_c": float("-inf")}, "'train.logreg_c' must be a finite number"),
        (
            "ingest",
            {"max_total_mb": 1},
            "'ingest.max_total_mb' must be an integer >= ingest.max_member_mb",
        ),
    ],
)
def test_bad_values_are_named(tmp_path, section, values, message):
    path = write(tmp_path, {"seed": 1, section: values})
    with pytest.raises(P.ParamsError) as err:
        P.load(section, path)
    assert message in str(err.value)


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, {"seed": 1, "trian": {}})
    with pytest.raises(P.ParamsError, match="unknown top-level key 'trian'"):
        P.load("train", path)


def test_int_accepted_for_float_and_converted(tmp_path):
    path = write(tmp_path, {"train": {"learning_rate": 1}})
    assert P.load("train", path).learning_rate == 1.0
    assert isinstance(P.load("train", path).learning_rate, float)


def test_bad_seed_and_missing_file(tmp_path):
    with pytest.raises(P.ParamsError, match="'seed' must be an integer"):
        P.load_seed(write(tmp_path, {"seed": "x"}))
    with pytest.raises(P.ParamsError, match="file not found"):
        P.load("train", tmp_path / "nope.yaml")


def test_stage_main_reports_one_line_and_exit_2(tmp_path, capsys):
    from imdb_sentiment.pipeline import preprocess

    path = write(tmp_path, {"preprocess": {"vocab_sise": 10}})
    with pytest.raises(SystemExit) as exit_info:
        preprocess.main(["--params", str(path), "--reviews", "x", "--out", "y", "--report", "z"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: params: unknown key 'preprocess.vocab_sise'")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("text", ["train:\n  learning_rate: .inf\n", "train:\n  dropout: .nan\n"])
def test_yaml_infinity_and_nan_are_refused(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\n" + text)
    with pytest.raises(P.ParamsError, match="must be a finite number"):
        P.load("train", path)


def test_a_key_given_twice_is_refused_naming_it(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\ntrain:\n  epochs: 3\n  epochs: 30\n")
    with pytest.raises(P.ParamsError, match="duplicate key 'epochs'"):
        P.load("train", path)
    path.write_text("seed: 1\nseed: 2\ntrain: {}\n")
    with pytest.raises(P.ParamsError, match="duplicate key 'seed'"):
        P.load_seed(path)


def test_missing_section_or_seed_is_named(tmp_path):
    path = write(tmp_path, {"seed": 1, "ingest": {}})
    with pytest.raises(P.ParamsError, match="section 'train' is missing"):
        P.load("train", path)
    with pytest.raises(P.ParamsError, match="'seed' is missing"):
        P.load_seed(write(tmp_path, {"train": {}}))


@pytest.mark.parametrize("content", [b"seed: 1\ntrain: {model: \xff\xfe}\n", b"\x00\x9f\x92\x96"])
def test_params_file_that_is_not_utf8_is_one_line_error(tmp_path, content):
    path = tmp_path / "params.yaml"
    path.write_bytes(content)
    with pytest.raises(P.ParamsError, match="is not UTF-8 text|not valid YAML"):
        P.load("train", path)
    with pytest.raises(P.ParamsError):
        P.read_yaml(tmp_path)  # a directory


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed: 4294967296\ntrain: {}\n", "'seed' must be an integer in"),
        ("seed: 1\ntrain: {batch_size: 2147483648}\n", "'train.batch_size' must be an integer in"),
        ("seed: 1\ntrain: {inter_op_threads: 1000000}\n", "'train.inter_op_threads' must be"),
        ("seed: 1\ntrain: {units: [2147483648]}\n", "'train.units' must be"),
        ("seed: 1\ntrain: {embedding_dim: 1099511627776}\n", "'train.embedding_dim' must be"),
        ("seed: 1\ntrain: {learning_rate: " + "9" * 400 + "}\n", "must be a finite number"),
        ("seed: 1\ntrain: {batch_size: " + "1" * 5000 + "}\n", "not valid YAML"),
        ("seed: 1\n? [a, b]\n: 1\ntrain: {}\n", "not valid YAML"),
        ("seed: 1\n1: a\ntrain: {}\n", "not valid YAML"),
        ("seed: 1\ntrain: {1: 2}\n", "not valid YAML"),
        ("seed: 1\nx: " + "[" * 5000 + "]" * 5000 + "\ntrain: {}\n", "not valid YAML"),
    ],
)
def test_absurd_values_and_shapes_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    if message.startswith(("'train.", "'seed'")):  # range checks: the other keys must be there
        text = yaml.safe_dump(complete(yaml.safe_load(text)))
    path.write_text(text)
    with pytest.raises(P.ParamsError, match=message) as err:
        P.load("train", path)
        P.load_seed(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        # float32 (what the optimizer and layers compute in) would make these 0, or lose bits
        ("train", {"learning_rate": 1e-50}, "'train.learning_rate' .*underflows in float32"),
        ("train", {"learning_rate": 1e-40}, "'train.learning_rate' .*underflows in float32"),
        ("train", {"logreg_c": 1e39}, "'train.logreg_c' .*overflows float32"),
        ("train", {"adversarial_epsilon": 1e-45}, "'train.adversarial_epsilon' .*underflows"),
        # an integer given for a float that a float cannot hold exactly
        (
            "train",
            {"learning_rate": 2**53 + 1},
            "'train.learning_rate' .*9007199254740993 is not exactly a float",
        ),
        # round(1 / 0.3) folds is 1/3, not 0.3
        (
            "preprocess",
            {"val_fraction": 0.3},
            r"'preprocess.val_fraction' must be 1/k .*0\.3 "
            r"would be 1/3 .*0\.2, 0\.25",
        ),
        ("preprocess", {"val_fraction": 0.333}, r"0\.333 would be 1/3"),
        ("preprocess", {"val_fraction": 0.11}, r"0\.11 would be 1/9"),
        # more than a class holds: silently all of it
        (
            "ingest",
            {"sample_per_class": 12501},
            "'ingest.sample_per_class' must be at most ingest.expected_per_class",
        ),
    ],
)
def test_values_that_would_silently_change_are_refused(tmp_path, section, values, message):
    path = write(tmp_path, {"seed": 1, section: values})
    with pytest.raises(P.ParamsError, match=message) as err:
        P.load(section, path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("fraction", [0.2, 0.25, 0.1, 0.125, 1 / 3, 0.05])
def test_val_fractions_of_the_form_1_over_k_are_accepted(tmp_path, fraction):
    path = write(tmp_path, {"seed": 1, "preprocess": {"val_fraction": fraction}})
    assert P.load("preprocess", path).val_fraction == fraction


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # YAML 1.1 (PyYAML, this loader) and YAML 1.2 (ruamel, which DVC reads and writes
        # params with) read these differently: refused rather than read one way
        ("  epochs: 010", r"'010' .*octal"),
        ("  epochs: 0o10", r"'0o10' is a string to YAML 1.1 and a number to YAML 1.2"),
        ("  epochs: 08", r"'08' .*write it as a plain decimal, or quote it"),
        ("  dropout: +.5", r"'\+\.5' is a string to YAML 1.1"),
        ("  batch_size: 1_024", r"'1_024' .*underscore"),
        ("  epochs: 1:30", r"'1:30' .*base 60"),
        ("  learning_rate: 1:30.5", r"'1:30.5' .*base 60"),
        ("  bidirectional: yes", r"'yes' .*write true or false"),
        ("  bidirectional: Off", r"'Off' .*write true or false"),
        ("  learning_rate: 1e-3", r"'1e-3' .*: write 1\.0e-3, or quote it if it is text"),
        ("  learning_rate: 1e3", r"'1e3' .*: write 1\.0e\+3, or quote it"),
        ("  learning_rate: 1.0e3", r"'1.0e3' .*: write 1\.0e\+3, or quote it"),
    ],
)
def test_yaml_scalars_read_differently_by_yaml_1_1_and_1_2_are_refused(tmp_path, line, message):
    project = (REPO / "params.yaml").read_text()
    key = line.split(":")[0]
    text = "\n".join(line if raw.startswith(key + ":") else raw for raw in project.splitlines())
    path = tmp_path / "params.yaml"
    path.write_text(text + "\n")
    with pytest.raises(P.ParamsError, match=message):
        P.load("train", path)


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    """Nine levels of ten aliases: a billion items if anything walks or prints them."""
    import time

    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    text = (REPO / "params.yaml").read_text().replace("  units: [32]", "  units: *a9")
    path = tmp_path / "params.yaml"
    path.write_text("\n".join(["bombs:"] + ["  " + line for line in levels]) + "\n" + text)
    start = time.perf_counter()
    with pytest.raises(P.ParamsError) as err:
        P.load("train", path)
    assert time.perf_counter() - start < 5 and len(str(err.value)) < 500
    path.write_text("\n".join(levels) + "\nseed: *a9\n" + text.replace("seed: 42\n", ""))
    with pytest.raises(P.ParamsError) as err:
        P.load_seed(path)
    assert len(str(err.value)) < 500


def test_a_params_file_larger_than_any_is_refused_unparsed(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text() + "# padding\n" * 200_000)
    with pytest.raises(
        P.ParamsError, match="holds more than 1048576 bytes, the limit for a params file"
    ):
        P.load("train", path)


@pytest.mark.parametrize(
    "digest", ["Z" * 64, "C40F74A18D3B61F90FEBA1E17730E0D38E8B97C05FDE7008942E91923D1658FE"]
)
def test_a_sha256_is_64_lower_case_hex_digits(tmp_path, digest):
    """An upper-case digest would pass a length check, then fail only after the download."""
    path = write(tmp_path, {"seed": 1, "ingest": {"sha256": digest}})
    with pytest.raises(P.ParamsError, match="'ingest.sha256' must be a sha256 as 64 lower-case"):
        P.load("ingest", path)


def test_a_merge_key_is_refused_by_name_without_expanding(tmp_path):
    """Nested merges of aliases would expand a few hundred bytes without bound."""
    path = tmp_path / "params.yaml"
    path.write_text("base: &base\n  x: 1\n  y: 2\nother:\n  <<: *base\n  y: 3\n")
    with pytest.raises(P.ParamsError, match=r"a merge key \('<<'\) is not supported"):
        P.read_yaml(path)
    levels = ["a0: &a0 {x: 1}"] + [
        f"a{i}: &a{i}\n  <<: [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)
    ]
    path.write_text("\n".join(levels) + "\n")
    with pytest.raises(P.ParamsError, match="merge key"):
        P.read_yaml(path)


@pytest.mark.parametrize("kind", NOT_REGULAR_FILES)
def test_a_params_path_that_is_not_a_regular_file_is_named_without_reading(tmp_path, kind):
    path, expected = not_a_regular_file(tmp_path, kind)
    with pytest.raises(P.ParamsError, match=f"params: .* {expected}.*, not a params file"):
        P.read_yaml(path)
