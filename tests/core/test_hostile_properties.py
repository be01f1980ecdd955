"""Property-based hostility: random params, archive members and API arguments are either
accepted, and then valid, or refused with one error naming what is wrong; never another
exception. Few examples each, so the file runs in well under a minute."""

from __future__ import annotations

import io
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from builders import REPO, build_archive, small_model
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from imdb_sentiment.core import params as P
from imdb_sentiment.core.errors import ArgumentError, PipelineError
from imdb_sentiment.data import aclimdb, archive
from imdb_sentiment.pipeline import ingest

QUICK = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PROJECT = yaml.safe_load((REPO / "params.yaml").read_text())

# --- params -------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.floats(min_value=-1e-30, max_value=1e-30),
    st.text(max_size=20),
    st.sampled_from(["gru", "last", "adam", "none", "nb_logreg"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def sections(draw) -> tuple[str, dict]:
    """A section of the project's params with some values replaced, keys added or dropped."""
    section = draw(st.sampled_from(sorted(P.SECTIONS)))
    raw = dict(PROJECT[section])
    for key in draw(st.lists(st.sampled_from(sorted(raw)), max_size=3, unique=True)):
        raw[key] = draw(values)
    if draw(st.booleans()):
        raw[draw(st.text(min_size=1, max_size=10))] = draw(values)
    if draw(st.integers(0, 5)) == 0:
        raw.pop(draw(st.sampled_from(sorted(raw))))
    return section, raw


@QUICK
@given(sections())
def test_params_are_a_valid_section_or_one_error_naming_the_key(case):
    section, raw = case
    try:
        loaded = P.from_dict(section, raw)
    except P.ParamsError as err:
        message = str(err)
        assert "\n" not in message and len(message) < 1500
        assert f"'{section}." in message
        return
    for field, value in P.to_dict(loaded).items():  # accepted: every float a finite float32
        if isinstance(value, float):
            assert math.isfinite(value) and (
                value == 0 or P.FLOAT32_TINY <= abs(value) <= P.FLOAT32_MAX
            ), field


@QUICK
@given(sections(), st.integers(min_value=-(2**40), max_value=2**40) | st.text(max_size=5))
def test_params_files_load_or_fail_in_one_line(tmp_path_factory, case, seed):
    """The same through YAML text, as the stages read it."""
    section, raw = case
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    try:
        path.write_text(yaml.safe_dump({"seed": seed, section: raw}, allow_unicode=True))
    except yaml.YAMLError:
        assume(False)
    for load in (lambda: P.load(section, path), lambda: P.load_seed(path)):
        try:
            load()
        except P.ParamsError as err:
            assert "\n" not in str(err) and str(err).startswith("params: ")


# --- archive member names and headers -------------------------------------------------------

names = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.sampled_from("aclImdb/trainstpoegu._0123456789\0\\:C "), max_size=60),
    st.builds(
        lambda split, kind, review, rating, tail: (
            f"aclImdb/{split}/{kind}/{review}_{rating}.txt{tail}"
        ),
        st.sampled_from(["train", "test", "..", "", "train/.."]),
        st.sampled_from(["pos", "neg", "unsup", "x"]),
        st.integers(-5, 10**12),
        st.integers(-1, 300),
        st.sampled_from(["", "\n", " ", "\0", "/", "/.."]),
    ),
    st.builds(lambda depth: "aclImdb/" + "a/" * depth + "f", st.integers(0, 20_000)),
    st.sampled_from(
        ["/etc/passwd", "C:\\x", "C:/x", "aclImdb/../x", "./aclImdb/train/pos/1_8.txt"]
    ),
)
KINDS = [
    tarfile.REGTYPE,
    tarfile.AREGTYPE,
    tarfile.DIRTYPE,
    tarfile.SYMTYPE,
    tarfile.LNKTYPE,
    tarfile.CHRTYPE,
    tarfile.BLKTYPE,
    tarfile.FIFOTYPE,
    tarfile.CONTTYPE,
    tarfile.GNUTYPE_SPARSE,
    b"V",
    b"Z",
]


def archive_with(tmp_path: Path, info: tarfile.TarInfo, data: bytes) -> Path:
    """The tiny valid archive, as a pax tar, with one more member at its end."""
    source = build_archive(tmp_path / "a.tar.gz", per_class=2, unsup=1)
    path = tmp_path / "b.tar"
    with tarfile.open(source) as tar_in, tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as out:
        for member in tar_in:
            out.addfile(member, tar_in.extractfile(member) if member.isfile() else None)
        out.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def safe(name: str) -> bool:
    """Whether a member of this name may be in an archive ingest reads."""
    return not (
        "\0" in name
        or name.startswith("/")
        or archive.DRIVE_RE.match(name)
        or ".." in name.split("/")
    )


def read_as_a_review(name: str) -> bool:
    return bool(aclimdb.REVIEW_RE.fullmatch(name) or aclimdb.URLS_RE.fullmatch(name))


@QUICK
@given(names, st.binary(max_size=64))
def test_any_member_name_is_read_or_refused_in_one_line(tmp_path_factory, name, data):
    info = tarfile.TarInfo("placeholder")
    info.size = len(data)
    info.pax_headers = {"path": name}
    path = archive_with(tmp_path_factory.mktemp("tar"), info, data)
    name = name.rstrip("/")
    try:
        frame = ingest.read_archive(path, 1 << 20, 1 << 30)
    except PipelineError as err:
        assert "\n" not in str(err).replace("\\n", "")
        return
    assert safe(name), name
    # a text file in a review folder is read as a review, or refused
    assert read_as_a_review(name) or not aclimdb.IN_REVIEW_FOLDER_RE.fullmatch(name), name
    if not read_as_a_review(name):
        assert len(frame) == 2 * 4 + 1


@QUICK
@given(
    st.sampled_from(KINDS),
    st.integers(-(2**40), 2**40),
    st.dictionaries(
        st.sampled_from(
            [
                "size",
                "path",
                "linkpath",
                "mtime",
                "uid",
                "GNU.sparse.size",
                "GNU.sparse.major",
                "comment",
                "hdrcharset",
            ]
        ),
        st.text(max_size=30) | st.integers(-(10**6), 10**30).map(str),
        max_size=3,
    ),
)
def test_any_member_header_is_read_or_refused_in_one_line(tmp_path_factory, kind, size, pax):
    """Random types, sizes (negative ones too) and pax records: never a crash or a hang."""
    info = tarfile.TarInfo("aclImdb/extra")
    info.type, info.pax_headers = kind, pax
    raw = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    block = bytearray(raw[-512:])  # the member's own header, after any pax header
    block[124:136] = (
        b"\xff" + (size & ((1 << 88) - 1)).to_bytes(11, "big")
        if size < 0
        else (b"%011o\0" % size if size < 8**11 else b"\x80" + size.to_bytes(11, "big"))
    )
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    tmp_path = tmp_path_factory.mktemp("tar")
    plain = archive_with(tmp_path, tarfile.TarInfo("aclImdb/README"), b"").read_bytes()
    end = len(plain.rstrip(b"\0"))
    end += -end % 512
    path = tmp_path / "c.tar"
    path.write_bytes(plain[:end] + raw[:-512] + bytes(block) + b"x" * 700 + b"\0" * 10240)
    try:
        ingest.read_archive(path, 1 << 20, 1 << 22)
    except PipelineError as err:
        assert "\n" not in str(err).replace("\\n", "")


# --- the API ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_and_model(tmp_path_factory):

    from imdb_sentiment.inference import api

    return api, small_model(tmp_path_factory.mktemp("model") / "small.keras")


texts = st.lists(
    st.text(max_size=30) | st.sampled_from(["", " ", "good film", "\ud800"]), max_size=8
)
batch_sizes = st.one_of(
    st.integers(-3, 3),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.floats(allow_nan=True),
    st.none(),
    st.text(max_size=3),
)


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(texts, batch_sizes)
def test_predict_gives_probabilities_or_names_the_bad_argument(api_and_model, texts, batch_size):
    api, model = api_and_model
    try:
        probs = api.predict(texts, model=model, batch_size=batch_size)
    except ArgumentError as err:
        assert isinstance(err, TypeError) and isinstance(err, ValueError)
        assert str(err).startswith("batch_size="), str(err)
        return
    assert isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1
    assert probs.shape == (len(texts),) and probs.dtype == np.float32
    assert np.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    st.one_of(
        st.text(max_size=5),
        st.binary(max_size=5),
        st.none(),
        st.integers(),
        st.lists(st.integers() | st.none() | st.binary(), min_size=1, max_size=3),
    )
)
def test_predict_names_texts_that_are_not_an_iterable_of_str(api_and_model, texts):
    api, model = api_and_model
    with pytest.raises(ArgumentError, match=r"^texts(\[\d+\])?="):
        api.predict(texts, model=model)
