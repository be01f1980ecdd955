"""Ingest: parsing the tar stream, safety checks, validation, download."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from builders import add_file, build_archive, write_params

from imdb_sentiment.core.artifacts import read_json
from imdb_sentiment.data import data_report, reviews
from imdb_sentiment.data.archive import ArchiveError
from imdb_sentiment.data.download import download
from imdb_sentiment.data.tar_headers import PlainHeaderInfo
from imdb_sentiment.pipeline import ingest

MAX = 1 << 20
TOTAL = 1 << 30


def test_reads_tiny_archive(tiny_archive):
    frame = ingest.read_archive(tiny_archive, MAX, TOTAL)
    assert list(frame.columns) == reviews.COLUMNS
    counts = frame.groupby(["split", "label"]).size().to_dict()
    assert counts == {
        ("test", 0): 40,
        ("test", 1): 40,
        ("train", 0): 40,
        ("train", 1): 40,
        ("unsup", -1): 10,
    }
    assert frame["movie"].str.match(r"^tt\d{7}$").all()
    pos = frame[(frame["split"] == "train") & (frame["label"] == 1)]
    assert pos["rating"].between(7, 10).all()
    ingest.validate(frame, expected_per_class=40)


def test_wrong_count_is_reported(tiny_archive):
    frame = ingest.read_archive(tiny_archive, MAX, TOTAL)
    with pytest.raises(ingest.DataError, match="has 40 reviews, expected 12500"):
        ingest.validate(frame, expected_per_class=12500)


def test_rating_inconsistent_with_label(tmp_path):
    archive = build_archive(
        tmp_path / "a.tar.gz",
        per_class=3,
        extra=lambda t: add_file(t, "aclImdb/train/pos/3_2.txt", b"meh"),
    )
    with pytest.raises(ingest.DataError, match="3_2.txt: rating 2 is outside 7-10"):
        ingest.read_archive(archive, MAX, TOTAL)
    archive = build_archive(
        tmp_path / "c.tar.gz",
        per_class=3,
        extra=lambda t: add_file(t, "aclImdb/train/pos/3_8.txt", b"good"),
    )
    # urls_pos has 3 lines, so review 3 has no movie
    with pytest.raises(ingest.DataError, match="no line in urls_pos.txt"):
        ingest.read_archive(archive, MAX, TOTAL)
    frame = ingest.read_archive(build_archive(tmp_path / "b.tar.gz", per_class=3), MAX, TOTAL)
    frame.loc[0, "rating"] = 9  # a test/neg review rated 9
    with pytest.raises(ingest.DataError, match="rating inconsistent with their label"):
        ingest.validate(frame, expected_per_class=3)


@pytest.mark.parametrize(
    ("make_member", "message"),
    [
        (lambda: tarfile.TarInfo("/etc/evil.txt"), "absolute path"),
        (lambda: tarfile.TarInfo("aclImdb/../../evil.txt"), "'..'"),
        (lambda: _info("aclImdb/link", tarfile.SYMTYPE), "links are not allowed"),
        (lambda: _info("aclImdb/hard", tarfile.LNKTYPE), "links are not allowed"),
        (lambda: _info("aclImdb/dev", tarfile.CHRTYPE), "device"),
    ],
)
def test_unsafe_members_are_refused(tmp_path, make_member, message):
    def extra(archive):
        info = make_member()
        archive.addfile(info, io.BytesIO(b"") if info.isfile() else None)

    archive = build_archive(tmp_path / "a.tar.gz", per_class=2, extra=extra)
    with pytest.raises(ArchiveError, match=message):
        ingest.read_archive(archive, MAX, TOTAL)


def _info(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = "/etc/passwd"
    return info


def test_oversized_member_is_refused(tiny_archive):
    with pytest.raises(ArchiveError, match="exceeds the 10-byte limit"):
        ingest.read_archive(tiny_archive, 10, TOTAL)


def test_corrupt_and_truncated_archive(tmp_path, tiny_archive):
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(tiny_archive.read_bytes()[:2000])
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        ingest.read_archive(truncated, MAX, TOTAL)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive at all" * 100)
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        ingest.read_archive(garbage, MAX, TOTAL)


def test_non_utf8_review_is_named(tmp_path):
    archive = build_archive(
        tmp_path / "a.tar.gz",
        per_class=3,
        extra=lambda t: add_file(t, "aclImdb/test/neg/1_2.txt", b"caf\xe9 latte"),
    )
    with pytest.raises(ingest.DataError, match=r"aclImdb/test/neg/1_2.txt is not valid UTF-8"):
        ingest.read_archive(archive, MAX, TOTAL)


def test_accepts_official_layout_extras(tmp_path):
    def extra(archive):
        add_file(archive, "aclImdb/train/labeledBow.feat", b"0:1 1:2\n")
        add_file(archive, "aclImdb/imdb.vocab", b"the\nand\n")

    frame = ingest.read_archive(
        build_archive(tmp_path / "a.tar.gz", per_class=4, extra=extra), MAX, TOTAL
    )
    assert len(frame) == 4 * 4 + 10


def test_sample_is_seeded_and_stratified(tiny_archive):
    frame = ingest.read_archive(tiny_archive, MAX, TOTAL)
    a = ingest.sample(frame, 5, seed=1)
    b = ingest.sample(frame, 5, seed=1)
    c = ingest.sample(frame, 5, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["id"].equals(c["id"])
    assert a.groupby(["split", "label"]).size().tolist() == [5, 5, 5, 5, 5]


def test_report_counts_duplicates(tiny_archive):
    frame = ingest.read_archive(tiny_archive, MAX, TOTAL)
    train_pos = frame.index[(frame["split"] == "train") & (frame["label"] == 1)]
    test_neg = frame.index[(frame["split"] == "test") & (frame["label"] == 0)]
    frame.loc[test_neg[0], "text"] = frame.loc[train_pos[0], "text"]  # across splits, labels differ
    frame.loc[train_pos[1], "text"] = frame.loc[train_pos[2], "text"]  # within train
    report = data_report.data_report(frame, "abc")
    assert report["counts"]["train_pos"] == 40
    assert report["archive_sha256"] == "abc"
    assert report["duplicates"] == {
        "within_train": 1,
        "within_test": 0,
        "test_in_train": 1,
        "conflicting_labels": 1,
    }
    assert 0 < report["br_share"] < 1
    assert (
        report["labeled_fingerprint"]
        == data_report.data_report(frame, "xyz")["labeled_fingerprint"]
    )


def test_download_verifies_checksum(tmp_path, tiny_archive):
    url = tiny_archive.as_uri()
    good = hashlib.sha256(tiny_archive.read_bytes()).hexdigest()
    dest = tmp_path / "dl" / "archive.tar.gz"
    with pytest.raises(ArchiveError, match="has sha256"):
        download(url, dest, "0" * 64, retries=1)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    download(url, dest, good, retries=1)
    assert dest.read_bytes() == tiny_archive.read_bytes()


def test_download_failure_after_retries(tmp_path):
    missing = (tmp_path / "nowhere.tar.gz").as_uri()
    with pytest.raises(ArchiveError, match="after 1 attempts"):
        download(missing, tmp_path / "x.tar.gz", "0" * 64, retries=1)


def test_main_writes_nothing_on_bad_archive(tmp_path, capsys):
    bad = tmp_path / "raw" / "aclImdb_v1.tar.gz"
    bad.parent.mkdir()
    bad.write_bytes(b"\x1f\x8b broken")
    params = write_params(tmp_path / "params.yaml", archive=str(bad))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        ingest.main(
            [
                "--params",
                str(params),
                "--reviews",
                str(out / "r.parquet"),
                "--report",
                str(out / "report.json"),
            ]
        )
    assert exit_info.value.code == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    assert not (out / "r.parquet").exists() and not (out / "report.json").exists()


def test_main_end_to_end(tmp_path, tiny_archive):
    params = write_params(tmp_path / "params.yaml", archive=str(tiny_archive))
    ingest.main(
        [
            "--params",
            str(params),
            "--reviews",
            str(tmp_path / "r.parquet"),
            "--report",
            str(tmp_path / "report.json"),
        ]
    )
    frame = pd.read_parquet(tmp_path / "r.parquet")
    assert len(frame) == 170
    report = read_json(tmp_path / "report.json")
    assert report["archive_sha256"] == hashlib.sha256(tiny_archive.read_bytes()).hexdigest()
    assert Path(tmp_path / "r.parquet").stat().st_size > 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        # int8 storage would have turned 264 into 8, a valid positive rating
        ("aclImdb/train/pos/7_264.txt", "rating 264 is outside 7-10"),
        ("aclImdb/test/neg/7_0.txt", "rating 0 is outside 1-4"),
        ("aclImdb/train/unsup/7_3.txt", "rating 3 is outside 0-0"),
        ("aclImdb/train/pos/9999999999_8.txt", "id 9999999999 is larger than"),
    ],
)
def test_ratings_and_ids_outside_their_range_are_refused(tmp_path, name, message):
    archive = build_archive(
        tmp_path / "a.tar.gz", per_class=3, extra=lambda t: add_file(t, name, b"text")
    )
    with pytest.raises(ingest.DataError, match=message):
        ingest.read_archive(archive, MAX, TOTAL)


def test_urls_file_that_is_not_utf8_is_named(tmp_path):
    archive = build_archive(
        tmp_path / "a.tar.gz",
        per_class=3,
        replaced={"aclImdb/train/urls_pos.txt": b"\xff\xfe"},
    )
    with pytest.raises(ingest.DataError, match="urls_pos.txt is not valid UTF-8"):
        ingest.read_archive(archive, MAX, TOTAL)


def test_total_unpacked_size_is_limited_not_only_each_member(tmp_path):
    """Many members, each under the per-member limit, that add up to too much."""

    def many(tar):
        for i in range(20):
            add_file(tar, f"aclImdb/filler/{i}.bin", b"\0" * 10_000)

    archive = build_archive(tmp_path / "a.tar.gz", per_class=3, extra=many)
    with pytest.raises(ArchiveError, match="unpacks to more than the 100000-byte limit"):
        ingest.read_archive(archive, MAX, 100_000)
    assert len(ingest.read_archive(archive, MAX, TOTAL)) == 3 * 4 + 10  # and 10 unlabeled


def plain_tar(tmp_path: Path) -> bytes:
    """The tiny archive as an uncompressed tar (tarfile stops quietly at a bad header)."""
    import gzip

    return gzip.decompress(build_archive(tmp_path / "a.tar.gz", per_class=3, unsup=20).read_bytes())


@pytest.mark.parametrize(
    "damage", ["cut at a header", "garbage block", "flipped gzip bytes", "gzip cut short"]
)
def test_corrupt_or_truncated_archive_is_refused_wherever_the_damage_is(tmp_path, damage):
    import gzip

    data = plain_tar(tmp_path)
    blocks = len(data) // 512
    if damage == "cut at a header":
        # cut just before the header of a member three quarters in: looks like a shorter archive
        offsets = [m.offset for m in tarfile.open(fileobj=io.BytesIO(data))]
        data = data[: offsets[3 * len(offsets) // 4]]
    elif damage == "garbage block":
        offsets = [m.offset for m in tarfile.open(fileobj=io.BytesIO(data))]
        at = offsets[len(offsets) // 2]
        data = data[:at] + bytes(range(256)) * 2 + data[at + 512 :]
    compressed = gzip.compress(data, mtime=0)
    if damage == "flipped gzip bytes":
        at = int(len(compressed) * 0.9)
        compressed = (
            compressed[:at]
            + bytes(b ^ 0xFF for b in compressed[at : at + 8])
            + compressed[at + 8 :]
        )
    elif damage == "gzip cut short":
        compressed = compressed[: int(len(compressed) * 0.8)]
    assert blocks > 10
    archive = tmp_path / "damaged.tar.gz"
    archive.write_bytes(compressed)
    with pytest.raises(ArchiveError, match="corrupt|truncated"):
        ingest.read_archive(archive, MAX, TOTAL)


def test_plain_bzip2_and_xz_tars_are_read_alike(tmp_path):
    import bz2
    import lzma

    data = plain_tar(tmp_path)
    for name, packed in (
        ("a.tar", data),
        ("b.tar.bz2", bz2.compress(data)),
        ("c.tar.xz", lzma.compress(data)),
    ):
        (tmp_path / name).write_bytes(packed)
        assert len(ingest.read_archive(tmp_path / name, MAX, TOTAL)) == 3 * 4 + 20


@pytest.mark.parametrize(
    "name",
    [
        "aclImdb/train/unsup/" + "1" * 5000 + "_0.txt",
        "aclImdb/train/unsup/\u0663_0.txt",  # an Arabic-Indic 3
        "aclImdb/train/unsup/0_0.txt\n",
        "aclImdb/train/pos/40_7.TXT",
        "aclImdb/train/pos/40_7",
        "aclImdb/train/pos/0_7.txt.bak",
        "aclImdb/train/pos/more/40_7.txt",
    ],
)
def test_odd_names_in_a_review_folder_are_refused_not_skipped(tmp_path, name):
    archive = build_archive(
        tmp_path / "a.tar.gz", per_class=3, extra=lambda t: add_file(t, name, b"text")
    )
    with pytest.raises(ingest.DataError, match="is not named <id>_<rating>.txt"):
        ingest.read_archive(archive, MAX, TOTAL)


def test_an_unlabeled_review_given_twice_is_refused(tmp_path):
    archive = build_archive(
        tmp_path / "a.tar.gz",
        per_class=3,
        extra=lambda t: add_file(t, "aclImdb/train/unsup/0_0.txt", b"again"),
    )
    with pytest.raises(ArchiveError, match="holds 'aclImdb/train/unsup/0_0.txt' twice"):
        ingest.read_archive(archive, MAX, TOTAL)


def test_a_url_list_given_twice_is_refused(tmp_path):
    """The last copy would win unseen, changing the movies the split keeps apart."""
    archive = build_archive(
        tmp_path / "a.tar.gz",
        per_class=3,
        extra=lambda t: add_file(t, "aclImdb/train/urls_pos.txt", b"http://x/title/tt1/\n" * 3),
    )
    with pytest.raises(ArchiveError, match="holds 'aclImdb/train/urls_pos.txt' twice"):
        ingest.read_archive(archive, MAX, TOTAL)


def test_a_review_id_given_twice_with_two_ratings_is_refused(tmp_path):
    """Two names, so not a repeated member: 0_7.txt and 0_8.txt are both review 0."""
    frame = ingest.read_archive(build_archive(tmp_path / "a.tar.gz", per_class=3), MAX, TOTAL)
    first = frame[(frame["split"] == "train") & (frame["label"] == 1)].iloc[[0]]
    again = first.assign(rating=7 if first["rating"].iloc[0] != 7 else 8)
    with pytest.raises(ingest.DataError, match="duplicate review ids"):
        ingest.validate(pd.concat([frame, again], ignore_index=True), expected_per_class=None)


@pytest.mark.parametrize("url", ["notaurl", "http://[::1", "http://127.0.0.1:abc/"])
def test_unusable_download_url_is_one_line_error(tmp_path, url):
    with pytest.raises(ArchiveError, match="(cannot|could not) download"):
        download(url, tmp_path / "a.tar.gz", "0" * 64, retries=1)


@pytest.mark.parametrize(
    "tar_format", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]
)
def test_every_tar_format_reads_the_same_table(tmp_path, tar_format):
    """The quick header parse and tarfile's own agree: long names (ustar prefix, GNU long
    name, pax path), pax sizes and directories read the same in each format."""

    def longer(tar):
        folder = "aclImdb/" + "x" * 120 + "/"
        add_file(tar, folder + "notes.txt", b"not a review")
        info = tarfile.TarInfo("aclImdb/train/")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)

    tables = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.tar"
        build_archive(tmp_path / "gz" / f"{name}.tar.gz", per_class=5, unsup=2, extra=longer)
        with (
            tarfile.open(tmp_path / "gz" / f"{name}.tar.gz") as source,
            tarfile.open(
                path, "w", format=tar_format if name == "a" else tarfile.PAX_FORMAT
            ) as out,
        ):
            for member in source:
                out.addfile(member, source.extractfile(member) if member.isfile() else None)
        tables.append(ingest.read_archive(path, MAX, TOTAL))
    pd.testing.assert_frame_equal(*tables)
    assert len(tables[0]) == 5 * 4 + 2


def test_quick_header_parse_equals_tarfiles_on_every_byte_change(tiny_archive):
    """Every header of an archive, and 30 single-byte corruptions of each (a byte of the
    name, a number, the checksum, the type...), parse to the same member or fail alike."""
    import gzip
    import random

    def parse(cls, block):
        try:
            info = cls.frombuf(block, "utf-8", "surrogateescape")
        except Exception as err:  # noqa: BLE001 (the errors themselves are compared)
            return type(err).__name__, str(err)
        return info.get_info(), info.chksum, getattr(info, "_sparse_structs", None)

    data = gzip.decompress(tiny_archive.read_bytes())
    blocks = [data[i : i + 512] for i in range(0, len(data), 512)]
    headers = [block for block in blocks if block[257:262] == b"ustar"]
    assert len(headers) > 100
    rng = random.Random(0)
    compared = 0
    for header in headers:
        for variant in [header] + [
            bytes(rng.randrange(256) if i == k else c for i, c in enumerate(header))
            for k in rng.sample(range(512), 30)
        ]:
            assert parse(PlainHeaderInfo, variant) == parse(tarfile.TarInfo, variant)
            compared += 1
    assert compared == 31 * len(headers)


@pytest.mark.parametrize(
    "texts",
    [
        ["", " ", "a", " a  b c ", "x\x1cy\x1fz", "tab\tnew\nline", "", "end"],
        ["h\xe9llo w\xf6rld", "no\u2003break\xa0space", "\u3000", "mixed ascii and \u00e9"],
    ],
)
def test_word_counts_equal_str_split(texts):
    series = pd.Series(texts, dtype="str")
    expected = [len(text.split()) for text in texts]
    assert data_report.word_counts(series).tolist() == expected
    assert data_report.word_counts(series, rows_per_chunk=1).tolist() == expected
    assert data_report.word_counts(series.iloc[2:]).tolist() == expected[2:]


def test_download_retry_delays_double_up_to_a_cap(tmp_path, monkeypatch):
    from imdb_sentiment.data import download as downloading

    delays = []
    monkeypatch.setattr(downloading.time, "sleep", delays.append)
    with pytest.raises(ArchiveError, match="after 12 attempts"):
        download(
            (tmp_path / "nowhere.tar.gz").as_uri(), tmp_path / "x.tar.gz", "0" * 64, retries=12
        )
    assert delays == [2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60]


@pytest.mark.parametrize("retries", [0, -1, 101, True, 2.5, None])
def test_download_retries_are_bounded(tmp_path, retries):
    with pytest.raises(ValueError, match=r"retries=.* must be an integer in \[1, 100\]"):
        download(
            (tmp_path / "nowhere.tar.gz").as_uri(), tmp_path / "x.tar.gz", "0" * 64, retries=retries
        )


def test_a_download_larger_than_the_bound_is_refused_and_not_kept(tmp_path, tiny_archive):
    """A server that sends more than any archive could be (or never stops) fills no disk."""
    dest = tmp_path / "dl" / "archive.tar.gz"
    good = hashlib.sha256(tiny_archive.read_bytes()).hexdigest()
    with pytest.raises(ArchiveError, match="sends more than 1000 bytes"):
        download(tiny_archive.as_uri(), dest, good, retries=3, max_bytes=1000)
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_ingest_bounds_the_download_by_max_total_mb(tmp_path, monkeypatch):
    from imdb_sentiment.core import params as P

    calls = []
    monkeypatch.setattr(ingest, "download", lambda *args, **kwargs: calls.append(kwargs))
    cfg = P.load(
        "ingest", write_params(tmp_path / "params.yaml", archive=str(tmp_path / "absent.tar.gz"))
    )
    ingest.ensure_archive(cfg)
    assert calls == [{"max_bytes": cfg.max_total_mb * 1024 * 1024}]


@pytest.mark.parametrize(
    "name",
    [
        "./aclImdb/train/pos/40_7.txt",
        "aclImdb//train/pos/40_7.txt",
        "aclImdb/train/./pos/40_7.txt",
        "aclImdb/test/./urls_neg.txt",
    ],
)
def test_names_with_a_dot_slash_or_a_double_slash_are_refused_with_a_hint(tmp_path, name):
    """Packed as `tar czf x.tar.gz ./aclImdb`, every name starts "./": say so, rather than
    that the archive holds no reviews."""
    archive = build_archive(
        tmp_path / "a.tar.gz", per_class=3, extra=lambda t: add_file(t, name, b"text")
    )
    with pytest.raises(ingest.DataError, match="names must start aclImdb/ with single slashes"):
        ingest.read_archive(archive, MAX, TOTAL)
