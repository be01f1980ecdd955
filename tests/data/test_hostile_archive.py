"""Hostile archives: every shape that could make ingest's reader use unbounded memory or
time is refused with one ArchiveError (or DataError) line, before the bytes are read.

The shapes come from benchmarks/ingest_memory.py, which measures the reader's peak
memory on them at full size; here they are built small.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import signal
import tarfile
from pathlib import Path

import pytest
from builders import add_file, build_archive

from imdb_sentiment.data import aclimdb, archive
from imdb_sentiment.data.aclimdb import DataError
from imdb_sentiment.data.archive import ArchiveError
from imdb_sentiment.pipeline import ingest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "ingest_memory", REPO / "benchmarks" / "ingest_memory.py"
)
shapes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shapes)

MIB = 1 << 20
MAX, TOTAL = 128 * MIB, 1024 * MIB


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail, instead of hanging, when the body runs longer than `seconds`."""

    def expire(signum, frame):
        raise TimeoutError(f"still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def read(path: Path, max_bytes: int = MAX, max_total: int = TOTAL):
    with deadline(20):
        return ingest.read_archive(path, max_bytes, max_total)


@pytest.mark.parametrize(
    ("builder", "kind"),
    [
        (shapes.build_gnu_long_name_huge, "GNU long name"),
        (shapes.build_gnu_long_link_huge, "GNU long link"),
        (shapes.build_pax_header_huge, "pax"),
    ],
)
def test_long_names_and_pax_headers_over_64_kib_are_refused(tmp_path, builder, kind):
    path = builder(tmp_path, 70_000)
    with pytest.raises(
        ArchiveError, match=f"{kind} header of 7[0-9]{{4}} bytes, over the 65536-byte limit"
    ) as err:
        read(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE, tarfile.XGLTYPE])
def test_a_header_body_is_refused_before_it_is_read(tmp_path, kind):
    """A header that declares a gigabyte of body, of which the archive holds nothing: the
    declared size alone is refused (read first, it would be a gigabyte of memory)."""
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress(shapes.header("././@LongLink", 1 << 30, kind) + b"\0" * 4096))
    with pytest.raises(ArchiveError, match="header of 1073741824 bytes, over the"):
        read(path)


def test_a_chain_of_extended_headers_is_refused(tmp_path):
    """Thousands of long-name headers in front of one member: tarfile recursed once per header."""
    with pytest.raises(ArchiveError, match="more than 8 extended headers"):
        read(shapes.build_extended_header_chain(tmp_path, 5 * MIB))


@pytest.mark.parametrize("builder", [shapes.build_negative_size, shapes.build_pax_negative_size])
def test_a_negative_size_is_refused_not_looped_on(tmp_path, builder):
    """A size of -512 points the next header back at this one: read naively, forever."""
    with pytest.raises(ArchiveError, match=r"negative size \(-"):
        read(builder(tmp_path, 0))


def test_a_pax_number_too_long_for_python_is_a_corrupt_archive(tmp_path):
    with pytest.raises(ArchiveError, match="corrupt"):
        read(shapes.build_pax_number_too_long(tmp_path, 0))


@pytest.mark.parametrize(
    "builder", [shapes.build_sparse_map_huge, shapes.build_pax_sparse_map_huge]
)
def test_sparse_members_are_refused_before_their_map_is_read(tmp_path, builder):
    with pytest.raises(ArchiveError, match="sparse files are not allowed"):
        read(builder(tmp_path, MIB))


@pytest.mark.parametrize(
    "sparse",
    [
        shapes.sparse_header("aclImdb/s", 3)[:1100],
        shapes.pax_header([(b"GNU.sparse.major", b"1"), (b"GNU.sparse.minor", b"0")])
        + shapes.header("aclImdb/s", 10)
        + b"1000000\n",
    ],
)
def test_a_sparse_map_cut_short_is_refused_not_a_crash(tmp_path, sparse):
    """The map is never read: cut short, it once raised IndexError or ValueError."""
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress(shapes.file_member("aclImdb/README", b"x") + sparse))
    with pytest.raises(ArchiveError, match="sparse files are not allowed"):
        read(path)


def test_global_pax_headers_with_many_records_are_refused(tmp_path):
    """A global header's records apply to every later member: many of them cost a pass
    over each per member."""
    with pytest.raises(ArchiveError, match="global pax headers hold more than 64 records"):
        read(shapes.build_pax_global_huge(tmp_path, 60_000))


def test_a_global_pax_header_with_a_few_records_is_read(tmp_path):
    """`git archive` writes one (the commit id): fine."""

    def extra(tar):
        info = tarfile.TarInfo("pax_global_header")
        info.type = tarfile.XGLTYPE
        info.pax_headers = {"comment": "0123abcd"}
        tar.addfile(info)

    plain = build_archive(tmp_path / "a.tar.gz", per_class=3)
    with (
        tarfile.open(plain) as source,
        tarfile.open(tmp_path / "b.tar", "w", format=tarfile.PAX_FORMAT) as out,
    ):
        extra(out)
        for member in source:
            out.addfile(member, source.extractfile(member) if member.isfile() else None)
    assert len(read(tmp_path / "b.tar")) == 3 * 4 + 10


def test_more_members_than_the_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_MEMBERS", 100)
    with pytest.raises(ArchiveError, match="more than 100 members"):
        read(shapes.build_many_empty_members(tmp_path, 200 * 512))


def test_the_decompressed_stream_is_bounded_headers_and_trailing_zeros_included(tmp_path):
    """Gigabytes of zeros after the end-of-archive marker (a few KB of bzip2) used to be
    read to their end; the limit on what the archive unpacks to covers every byte."""
    path = shapes.build_trailing_zeros(tmp_path, 4 * MIB)
    with pytest.raises(ArchiveError, match="unpacks to more than the 1048576-byte limit"):
        read(path, MAX, MIB)


def test_empty_members_count_towards_the_unpacked_size(tmp_path):
    """Members of no bytes still cost a header each."""
    with pytest.raises(ArchiveError, match="unpacks to more than the 65536-byte limit"):
        read(shapes.build_many_empty_members(tmp_path, 200 * 512), MAX, 65536)


def test_a_url_list_longer_than_any_dataset_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(aclimdb, "MAX_URL_LINES", 100)
    with pytest.raises(DataError, match="urls_unsup.txt has more than 100 lines"):
        read(shapes.build_huge_urls_file(tmp_path, 12 * 200))


def test_url_lines_are_counted_as_splitlines_counts_them():
    text = "a\r\nb\rc\x1cd\u2028e\n"
    assert aclimdb.line_count(text) == len(text.splitlines()) == 5
    assert aclimdb.line_count("no end") == 1 and aclimdb.line_count("") == 0


def test_deep_paths_within_the_bound_are_only_names(tmp_path):
    with pytest.raises(ArchiveError, match="holds no aclImdb"):
        read(shapes.build_deep_paths(tmp_path, 61_440))


@pytest.mark.parametrize("name", ["aclImdb/train/pos/1_8.txt\0.sh", "aclImdb/a\0b"])
def test_a_nul_in_a_name_is_refused(tmp_path, name):
    def extra(tar):
        info = tarfile.TarInfo("placeholder")
        info.pax_headers = {"path": name}
        tar.addfile(info, __import__("io").BytesIO(b""))

    plain = build_archive(tmp_path / "a.tar.gz", per_class=3)
    with (
        tarfile.open(plain) as source,
        tarfile.open(tmp_path / "b.tar", "w", format=tarfile.PAX_FORMAT) as out,
    ):
        for member in source:
            out.addfile(member, source.extractfile(member) if member.isfile() else None)
        extra(out)
    with pytest.raises(ArchiveError, match="NUL character"):
        read(tmp_path / "b.tar")


def test_the_forward_reader_never_reads_to_the_end_at_once():
    import io

    reader = archive.ForwardReader(io.BytesIO(b"x" * 10), limit=100)
    with pytest.raises(OSError, match="bounded"):
        reader.read(-1)


def test_members_are_not_kept_while_reading(tmp_path, monkeypatch):
    """tarfile keeps every member it has read; the reader lets them go."""
    seen = []
    original = archive.BoundedTarFile.next

    def next_member(self):
        seen.append(len(self.members))
        return original(self)

    monkeypatch.setattr(archive.BoundedTarFile, "next", next_member)
    read(build_archive(tmp_path / "a.tar.gz", per_class=5))
    assert len(seen) > 30 and max(seen) <= 1


def test_the_readme_line_extras_still_read(tmp_path):
    """The limits leave the official layout's extra files alone."""
    archive_path = build_archive(
        tmp_path / "a.tar.gz",
        per_class=3,
        extra=lambda t: add_file(t, "aclImdb/imdb.vocab", b"the\n" * 10_000),
    )
    assert len(read(archive_path)) == 3 * 4 + 10


def xz_with_dictionary(data: bytes, props: int) -> bytes:
    """`data` as .xz whose block header claims an LZMA2 dictionary of code `props` (37:
    1.5 GiB), its CRC32 made right again: the decoder keeps that much as it decodes."""
    import lzma
    import zlib

    packed = bytearray(
        lzma.compress(
            data, format=lzma.FORMAT_XZ, filters=[{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 20}]
        )
    )
    start = 12  # after the stream header
    size = (packed[start] + 1) * 4
    filter_at = packed.index(b"\x21\x01", start, start + size)  # LZMA2, one byte of props
    packed[filter_at + 2] = props
    packed[start + size - 4 : start + size] = zlib.crc32(packed[start : start + size - 4]).to_bytes(
        4, "little"
    )
    return bytes(packed)


def test_an_xz_dictionary_beyond_the_bound_is_refused_before_it_fills(tmp_path):
    plain = gzip.decompress(build_archive(tmp_path / "a.tar.gz", per_class=3).read_bytes())
    ok = tmp_path / "ok.tar.xz"
    ok.write_bytes(xz_with_dictionary(plain, 30))  # 48 MiB: xz -9 uses 64 MiB
    assert len(read(ok)) == 3 * 4 + 10
    bomb = tmp_path / "bomb.tar.xz"
    bomb.write_bytes(xz_with_dictionary(plain, 37))
    with pytest.raises(ArchiveError, match="xz decoder would need more than 268435456 bytes"):
        read(bomb)
