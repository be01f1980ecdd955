"""Peak memory of ingest's archive reader on the worst archive shapes we know how to build.

Each shape is a small compressed file (at most tens of MB) built in a temporary
directory; each is read by `ingest.read_archive`, with the project's limits
(ingest.max_member_mb, ingest.max_total_mb), in a fresh process, which reports
its own peak resident memory (VmHWM). A process that passes --max-rss-mb or
--timeout is killed, and reported as such with the largest RSS seen.

    PYTHONPATH=src python benchmarks/ingest_memory.py                  # every shape
    PYTHONPATH=src python benchmarks/ingest_memory.py --only pax_header_huge --real data/raw/aclImdb_v1.tar.gz

Prints one JSON object: for each shape its compressed size, the reader's outcome (ok,
or the first line of its error), seconds and peak RSS in MB; `baseline` is the
reader on a tiny valid archive (the interpreter and its imports), `real` the
archive given with --real. The builders are shared with tests/data/test_hostile_archive.py,
which reads the same shapes at tiny sizes.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import itertools
import json
import lzma
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

BLOCK = tarfile.BLOCKSIZE
MIB = 1 << 20
END = b"\0" * (2 * BLOCK)  # the end-of-archive marker
CHUNK = 4 * MIB

# --- tar blocks -------------------------------------------------------------------------


def header(name: str, size: int, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> bytes:
    """One 512-byte ustar header (GNU flavour); `name` must fit its 100 bytes."""
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname = size, kind, linkname
    info.mode = 0o644
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def with_checksum(block: bytearray) -> bytes:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def negative_size_header(name: str, size: int) -> bytes:
    """A header whose size field holds a negative base-256 number (tar allows it; a
    reader that trusts it moves backwards)."""
    block = bytearray(header(name, 0))
    block[124:136] = b"\xff" + (size & ((1 << 88) - 1)).to_bytes(11, "big")
    return with_checksum(block)


def padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


def file_member(name: str, data: bytes = b"") -> bytes:
    return header(name, len(data)) + padded(data)


def pax_record(keyword: bytes, value: bytes) -> bytes:
    """'LENGTH keyword=value\\n', LENGTH counting itself."""
    rest = b" %s=%s\n" % (keyword, value)
    length = len(rest) + 1
    while len(str(length)) + len(rest) != length:
        length += 1
    return str(length).encode() + rest


def pax_header(records: Iterable[tuple[bytes, bytes]], kind: bytes = tarfile.XHDTYPE) -> bytes:
    body = b"".join(pax_record(k, v) for k, v in records)
    return header("PaxHeader", len(body), kind) + padded(body)


def sparse_header(name: str, extended_blocks: int) -> bytes:
    """An old-GNU sparse member ('S') whose map goes on for `extended_blocks` blocks."""
    block = bytearray(header(name, 0, tarfile.GNUTYPE_SPARSE))
    block[386:398], block[398:410] = b"%011o\0" % 1, b"%011o\0" % 1  # one (offset, length)
    block[482] = 1 if extended_blocks else 0  # isextended
    block[483:495] = b"%011o\0" % 1  # real size
    entries = (b"%011o\0" % 1) * 2 * 21
    more, last = entries + b"\1" + b"\0" * 7, entries + b"\0" * 8
    return (
        with_checksum(block)
        + more * max(0, extended_blocks - 1)
        + (last if extended_blocks else b"")
    )


# --- writing shapes ---------------------------------------------------------------------

Writer = Callable[[Path], "io.BufferedIOBase"]


def gz(path: Path):
    return gzip.open(path, "wb", compresslevel=6)


def write_shape(path: Path, parts: Iterable[bytes], opener: Writer = gz) -> Path:
    with opener(path) as out:
        for part in parts:
            out.write(part)
    return path


def repeated(byte: bytes, count: int) -> Iterable[bytes]:
    """`count` copies of `byte`, in chunks (the pieces of a shape are never all in memory)."""
    while count > 0:
        step = min(count, CHUNK)
        yield byte * step
        count -= step


def review(name: str, data: bytes = b"A fine film.") -> bytes:
    return file_member(name, data)


def build_valid(directory: Path, size: int) -> Path:
    """A tiny valid archive in the aclImdb layout (the baseline)."""
    parts = []
    for split in ("train", "test"):
        for kind, rating in (("pos", 8), ("neg", 2)):
            parts += [review(f"aclImdb/{split}/{kind}/{i}_{rating}.txt") for i in range(3)]
            parts.append(
                file_member(
                    f"aclImdb/{split}/urls_{kind}.txt",
                    b"http://www.imdb.com/title/tt0000001/\n" * 3,
                )
            )
    return write_shape(directory / "valid.tar.gz", parts + [END])


def pax_record_length(keyword: bytes, value_length: int) -> int:
    """The LENGTH of a pax record with this keyword and a value this long."""
    rest = len(keyword) + value_length + 3  # ' ', '=' and '\n'
    length = rest + 1
    while len(str(length)) + rest != length:
        length += 1
    return length


def build_pax_header_huge(directory: Path, size: int) -> Path:
    """One pax header whose body (one `path` record) is about `size` bytes."""
    length = pax_record_length(b"path", size)
    parts = itertools.chain(
        [header("PaxHeader", length, tarfile.XHDTYPE), b"%d path=" % length],
        repeated(b"a", size),
        [b"\n", b"\0" * (-length % BLOCK), file_member("aclImdb/README"), END],
    )
    return write_shape(directory / "pax_header_huge.tar.gz", parts)


def build_pax_global_huge(directory: Path, size: int) -> Path:
    """A global pax header ('g') of `size` bytes of tiny records: kept for every later member."""
    records = (pax_record(b"k%d" % i, b"") for i in range(size // 12))
    body = b"".join(records)
    parts = [header("GlobalHead", len(body), tarfile.XGLTYPE), padded(body)]
    parts += [file_member(f"aclImdb/filler/{i}") for i in range(2000)]
    return write_shape(directory / "pax_global_huge.tar.gz", parts + [END])


def build_gnu_long_name_huge(
    directory: Path,
    size: int,
    kind: bytes = tarfile.GNUTYPE_LONGNAME,
    name: str = "gnu_long_name_huge",
) -> Path:
    """A GNU long-name ('L') header whose body is `size` bytes."""
    parts = itertools.chain(
        [header("././@LongLink", size, kind)],
        repeated(b"a", size),
        [b"\0" * (-size % BLOCK), file_member("aclImdb/README"), END],
    )
    return write_shape(directory / f"{name}.tar.gz", parts)


def build_gnu_long_link_huge(directory: Path, size: int) -> Path:
    return build_gnu_long_name_huge(directory, size, tarfile.GNUTYPE_LONGLINK, "gnu_long_link_huge")


def build_extended_header_chain(directory: Path, size: int) -> Path:
    """Extended headers in front of one member, each naming it again: `size` // 1024 of them."""
    link = header("././@LongLink", 10, tarfile.GNUTYPE_LONGNAME) + padded(b"aclImdb/xx")
    parts = [link * max(1, size // 1024), file_member("aclImdb/README"), END]
    return write_shape(directory / "extended_header_chain.tar.gz", parts)


def build_negative_size(directory: Path, size: int) -> Path:
    """A member whose size is -512: read naively, its header is read again, forever."""
    parts = [file_member("aclImdb/README", b"x"), negative_size_header("aclImdb/loop", -BLOCK), END]
    return write_shape(directory / "negative_size.tar.gz", parts)


def build_pax_negative_size(directory: Path, size: int) -> Path:
    """A pax `size=-1536`: the member after it points back at the pax header."""
    parts = [
        file_member("aclImdb/README", b"x"),
        pax_header([(b"size", b"-1536")]),
        file_member("aclImdb/loop"),
        END,
    ]
    return write_shape(directory / "pax_negative_size.tar.gz", parts)


def build_pax_number_too_long(directory: Path, size: int) -> Path:
    """A pax record length of 5,000 digits (beyond Python's int-from-str limit)."""
    body = b"9" * 5000 + b" a=b\n"
    parts = [
        header("PaxHeader", len(body), tarfile.XHDTYPE),
        padded(body),
        file_member("aclImdb/README"),
        END,
    ]
    return write_shape(directory / "pax_number_too_long.tar.gz", parts)


def build_sparse_map_huge(directory: Path, size: int) -> Path:
    """An old-GNU sparse member whose map runs over `size` bytes of extended blocks."""
    parts = [sparse_header("aclImdb/sparse", max(1, size // BLOCK)), END]
    return write_shape(directory / "sparse_map_huge.tar.gz", parts)


def build_pax_sparse_map_huge(directory: Path, size: int) -> Path:
    """A pax GNU sparse 1.0 member: its map, in the data, claims `size` // 2 numbers."""
    numbers = size // 2
    head = pax_header(
        [
            (b"GNU.sparse.major", b"1"),
            (b"GNU.sparse.minor", b"0"),
            (b"GNU.sparse.name", b"aclImdb/sparse"),
            (b"GNU.sparse.realsize", b"1"),
        ]
    )
    parts = itertools.chain(
        [head, header("aclImdb/sparse", size + 32), b"%d\n" % (numbers // 2)],
        repeated(b"1\n", numbers),
        [END],
    )
    return write_shape(directory / "pax_sparse_map_huge.tar.gz", parts)


def build_many_empty_members(directory: Path, size: int) -> Path:
    """`size` // 512 empty files: no bytes of content, only headers."""
    parts = (file_member(f"aclImdb/f/{i:x}") for i in range(size // BLOCK))
    return write_shape(directory / "many_empty_members.tar.gz", itertools.chain(parts, [END]))


def build_many_tiny_reviews(directory: Path, size: int) -> Path:
    """One-byte unlabeled reviews, `size` // 1024 of them (each a header and a block)."""
    count = size // (2 * BLOCK)
    parts = (review(f"aclImdb/train/unsup/{i}_0.txt", b"a") for i in range(count))
    urls = file_member("aclImdb/train/urls_unsup.txt", b"/title/tt1/\n" * count)
    return write_shape(directory / "many_tiny_reviews.tar.gz", itertools.chain(parts, [urls, END]))


def build_compressible_reviews(directory: Path, size: int) -> Path:
    """Reviews of one repeated letter, each as large as ingest.max_member_mb allows, up to
    `size` bytes in all: the decompression bomb the size limits are for."""
    member = 128 * MIB - BLOCK

    def parts() -> Iterable[bytes]:
        for index in range(max(1, size // (128 * MIB))):
            yield header(f"aclImdb/train/unsup/{index}_0.txt", member)
            yield from repeated(b"a", member)
        yield END

    return write_shape(directory / "compressible_reviews.tar.gz", parts())


def build_huge_urls_file(directory: Path, size: int) -> Path:
    """A movie-url list of `size` bytes of the shortest valid lines."""
    line = b"/title/tt1/\n"
    count = size // len(line)
    parts = itertools.chain(
        [header("aclImdb/train/urls_unsup.txt", count * len(line))],
        repeated(line, count),
        [b"\0" * (-count * len(line) % BLOCK), END],
    )
    return write_shape(directory / "huge_urls_file.tar.gz", parts)


def build_trailing_zeros(directory: Path, size: int) -> Path:
    """`size` bytes of zeros after the end-of-archive marker, in bzip2 (a few KB for GBs)."""
    parts = itertools.chain([file_member("aclImdb/README", b"x"), END], repeated(b"\0", size))
    return write_shape(
        directory / "trailing_zeros.tar.bz2",
        parts,
        lambda path: bz2.open(path, "wb", compresslevel=9),
    )


def build_xz_huge_dictionary(directory: Path, size: int) -> Path:
    """An xz stream with a 1.5 GiB dictionary over `size` bytes of zeros, in members under
    ingest.max_member_mb: the decoder keeps as much of the dictionary as it has decoded."""
    filters = [{"id": lzma.FILTER_LZMA2, "dict_size": 1536 * MIB}]
    member = 120 * MIB

    def parts() -> Iterable[bytes]:
        for index in range(max(1, size // member)):
            yield header(f"aclImdb/zeros/{index}.bin", member)
            yield from repeated(b"\0", member)
        yield END

    return write_shape(
        directory / "xz_huge_dictionary.tar.xz",
        parts(),
        lambda path: lzma.open(path, "wb", format=lzma.FORMAT_XZ, filters=filters),
    )


def build_deep_paths(directory: Path, size: int) -> Path:
    """Members named by pax paths of 30,000 levels ('a/a/.../a'), `size` // 60 KB of them."""
    deep = b"/".join([b"a"] * 30_000)
    parts = []
    for index in range(max(1, size // 61440)):
        parts += [
            pax_header([(b"path", b"aclImdb/%d/%s" % (index, deep))]),
            file_member("placeholder"),
        ]
    return write_shape(directory / "deep_paths.tar.gz", [*parts, END])


def build_special_members(directory: Path, size: int) -> Path:
    """A symlink, a hard link, a device, a fifo and '..' and absolute names (all refused)."""
    parts = [
        header("aclImdb/link", 0, tarfile.SYMTYPE, "/etc/passwd"),
        header("aclImdb/hard", 0, tarfile.LNKTYPE, "/etc/passwd"),
        header("aclImdb/dev", 0, tarfile.CHRTYPE),
        header("aclImdb/fifo", 0, tarfile.FIFOTYPE),
        file_member("aclImdb/../../evil"),
        file_member("/etc/evil"),
        END,
    ]
    return write_shape(directory / "special_members.tar.gz", parts)


SHAPES: dict[str, Callable[[Path, int], Path]] = {
    name[len("build_") :]: builder
    for name, builder in globals().items()
    if name.startswith("build_") and name != "build_valid"
}
# uncompressed payload per shape: large enough to show a problem, small enough to build fast
PAYLOAD = {
    "pax_global_huge": 60_000,
    "extended_header_chain": 5 * MIB,
    "pax_number_too_long": 0,
    "negative_size": 0,
    "pax_negative_size": 0,
    "special_members": 0,
    "sparse_map_huge": 256 * MIB,
    "pax_sparse_map_huge": 256 * MIB,
    "many_empty_members": 512 * MIB,
    "many_tiny_reviews": 245_000 * 2 * BLOCK,  # just under archive.MAX_MEMBERS
    "compressible_reviews": 1024 * MIB,
    "huge_urls_file": 127 * MIB,
    "trailing_zeros": 2048 * MIB,
    "xz_huge_dictionary": 960 * MIB,
    "deep_paths": 60 * MIB,
}
DEFAULT_PAYLOAD = 512 * MIB

# --- measuring ----------------------------------------------------------------------------

# The reader's peak is its own VmHWM: the kernel's ru_maxrss of a child also counts the
# parent's memory at the fork.
READER = """
import json, re, sys, time
from imdb_sentiment.pipeline.ingest import read_archive
start = time.perf_counter()
try:
    frame = read_archive(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    outcome = f"ok: {len(frame)} reviews"
except Exception as err:
    outcome = f"{type(err).__name__}: " + " ".join(str(err).split())[:200]
seconds = round(time.perf_counter() - start, 2)
with open("/proc/self/status") as status:
    peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_rss_mb": round(peak / 1024)}))
"""


def measure(
    archive: Path, max_member: int, max_total: int, timeout: float, max_rss_mb: float
) -> dict:
    """Run the reader on `archive` in a fresh process; its outcome, time and peak RSS."""
    import psutil

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", READER, str(archive), str(max_member), str(max_total)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    killed: list[str] = []
    sampled = [0.0]  # the largest RSS seen: the peak of a reader that was killed

    def watch() -> None:
        """Kill the reader past the time or memory limit (this machine is shared)."""
        process = psutil.Process(proc.pid)
        while proc.returncode is None:
            try:
                rss = process.memory_info().rss / MIB
            except psutil.Error:
                return
            sampled[0] = max(sampled[0], rss)
            if rss > max_rss_mb or time.perf_counter() - start > timeout:
                killed.append(
                    f"killed past {max_rss_mb:.0f} MB"
                    if rss > max_rss_mb
                    else f"killed after {timeout:.0f} s"
                )
                proc.kill()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    output = proc.stdout.read()
    proc.wait()
    watcher.join()
    result = {"compressed_bytes": archive.stat().st_size, "peak_rss_mb": round(sampled[0])}
    seconds = round(time.perf_counter() - start, 1)
    if killed:
        return {**result, "outcome": killed[0], "seconds": seconds}
    try:
        return {**result, **json.loads(output.decode().strip().splitlines()[-1])}
    except (IndexError, ValueError):
        return {**result, "outcome": f"crashed (exit {proc.returncode})", "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(SHAPES), help="shapes to run")
    parser.add_argument("--real", type=Path, help="also measure this archive")
    parser.add_argument("--max-member-mb", type=int, default=128)
    parser.add_argument("--max-total-mb", type=int, default=1024)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--max-rss-mb", type=float, default=6000.0)
    args = parser.parse_args(argv)
    limits = (args.max_member_mb * MIB, args.max_total_mb * MIB, args.timeout, args.max_rss_mb)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        results["baseline"] = measure(build_valid(directory, 0), *limits)
        for name in args.only or sorted(SHAPES):
            archive = SHAPES[name](directory, PAYLOAD.get(name, DEFAULT_PAYLOAD))
            results[name] = measure(archive, *limits)
            archive.unlink()
            print(f"{name}: {results[name]}", file=sys.stderr)
    if args.real:
        results["real"] = measure(args.real, *limits)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
