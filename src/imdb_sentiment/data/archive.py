"""The aclImdb archive as a stream of checked files: decompress, read members safely.

Nothing is extracted to disk. The compressed stream is decompressed once, in
large blocks, and Python's tarfile parses the headers from a buffer that only
moves forward, so reading the 100,000 members costs little more than gunzip.
Every member is checked for safety before it is read, and a corrupt or
truncated archive is an error wherever the damage is.

Nothing an archive declares is trusted to be small: tarfile reads a GNU long
name or a pax header whole, follows a chain of them by recursion, steps back on
a negative size and reads a sparse map to its end, so those headers are refused
before tarfile reads them (`tar_headers.py`); and every byte the stream
unpacks to, headers, padding and trailing zeros included, counts towards
`ingest.max_total_mb`, as every member does towards a count (`MAX_MEMBERS`).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.data.tar_headers import BoundedTarFile, UnsafeHeader

BLOCK = 1 << 20
# aclImdb v1 holds about 100,020 members. Each member named as a review costs about a kilobyte
# of Python objects however small it is, so the count is bounded too: 2.5 times the dataset.
MAX_MEMBERS = 250_000
DRIVE_RE = re.compile(r"[A-Za-z]:")
# The xz decoder keeps as much of its dictionary as it has decoded, and the file says how
# large that is (up to 4 GiB); `xz -9` needs 65 MiB. gzip's window is 32 KiB, bzip2's 900 KB.
MAX_XZ_MEMORY = 256 << 20


class ArchiveError(PipelineError):
    """The archive is missing, corrupt, unsafe or not the aclImdb layout."""


def check_member(member: tarfile.TarInfo, max_bytes: int) -> None:
    """Refuse members that could escape or abuse the reader."""
    name = member.name
    if "\0" in name:
        raise ArchiveError(f"unsafe archive member {name!r}: the name holds a NUL character")
    if name.startswith("/") or DRIVE_RE.match(name):
        raise ArchiveError(f"unsafe archive member {name!r}: absolute path")
    if ".." in name.split("/"):
        raise ArchiveError(f"unsafe archive member {name!r}: path contains '..'")
    if member.issym() or member.islnk():
        raise ArchiveError(f"unsafe archive member {name!r}: links are not allowed")
    if member.issparse() or not (member.isfile() or member.isdir()):
        raise ArchiveError(
            f"unsafe archive member {name!r}: sparse, device, fifo or other special file"
        )
    if member.size < 0:  # a pax size; a header's own is refused as it is read
        raise ArchiveError(f"unsafe archive member {name!r}: negative size ({member.size})")
    if member.size > max_bytes:
        raise ArchiveError(
            f"unsafe archive member {name!r}: {member.size} bytes exceeds the {max_bytes}-byte limit"
        )


class XZReader(io.RawIOBase):
    """An .xz file decompressed as lzma.LZMAFile does (streams one after another, trailing
    garbage ignored), with the decoder's memory bounded by MAX_XZ_MEMORY, which LZMAFile
    cannot do."""

    def __init__(self, raw):
        self.raw = raw
        self.decoder = lzma.LZMADecompressor(memlimit=MAX_XZ_MEMORY)
        self.done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise OSError("the archive stream is only read in bounded pieces")
        while size and not self.done:
            if self.decoder.eof:  # a stream ended: another may follow
                block = self.decoder.unused_data or self.raw.read(BLOCK)
                if not block:
                    break
                self.decoder = lzma.LZMADecompressor(memlimit=MAX_XZ_MEMORY)
                try:
                    data = self.decoder.decompress(block, size)
                except lzma.LZMAError:  # not a stream: trailing bytes, ignored like LZMAFile
                    break
            else:
                block = self.raw.read(BLOCK) if self.decoder.needs_input else b""
                if not block and self.decoder.needs_input:
                    raise EOFError("the xz stream ends before its end-of-stream marker")
                data = self.decoder.decompress(block, size)
            if data:
                return data
        self.done = True
        return b""

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_decompressed(handle):
    """The archive's tar bytes: decompressed (gzip, bzip2 or xz, which check their own
    checksums when read to the end) or, for a plain tar, the file itself."""
    magic = handle.read(6)
    handle.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=handle)
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(handle)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return XZReader(handle)
    return handle


class StreamLimit(Exception):
    """The decompressed stream is longer than the reader's limit."""


class ForwardReader:
    """A stream that tarfile may seek, as long as it only seeks forward.

    tarfile's own stream mode ("r|") re-slices its buffer on every small read;
    seekable mode ("r:") over this reader reads the stream a megabyte at a time
    and lets each member's bytes be taken straight from the buffer. Reading past
    `limit` bytes of the stream raises StreamLimit.
    """

    def __init__(self, stream, limit: int):
        self.stream = stream
        self.limit = limit
        self.buffer = bytearray()
        self.start = 0  # stream offset of buffer[0]
        self.position = 0
        self.exhausted = False

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        offset = offset + self.position if whence == 1 else offset
        if whence not in (0, 1) or offset < self.start:
            raise OSError("the archive stream can only move forward")
        self.position = offset
        return offset

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise OSError("the archive stream is only read in bounded pieces")
        end = self.position + size
        if end > self.start + len(self.buffer):
            self._fill(end)
        begin = self.position - self.start
        with memoryview(self.buffer) as view:  # one copy (a bytearray slice would be two)
            data = bytes(view[begin : end - self.start])
        self.position += len(data)
        return data

    def _fill(self, end: int) -> None:
        """Buffer the stream up to offset `end`, dropping what lies before the current
        position."""
        while True:
            consumed = min(self.position - self.start, len(self.buffer))
            if consumed >= BLOCK:
                del self.buffer[:consumed]
                self.start += consumed
            if self.exhausted or self.start + len(self.buffer) >= end:
                return
            block = self.stream.read(BLOCK)
            if not block:
                self.exhausted = True
            self.buffer += block
            if self.start + len(self.buffer) > self.limit:
                raise StreamLimit(self.limit)


def check_end(reader: ForwardReader, offset: int, path: str | Path) -> None:
    """From `offset`, where the members end, a tar holds its end-of-archive blocks
    (zeros) and nothing else.

    tarfile stops quietly at the first header it cannot read, so a corrupt archive
    looks like a shorter one unless what follows is checked too. Reading to the end
    also makes the decompressor verify its checksum.
    """
    reader.seek(offset)
    trailing = 0
    while block := reader.read(BLOCK):
        if block.count(0) != len(block):
            raise ArchiveError(f"archive {path} is corrupt: data after the last readable member")
        trailing += len(block)
    if trailing < 2 * tarfile.BLOCKSIZE:
        raise ArchiveError(f"archive {path} is truncated: no end-of-archive marker")


def iter_files(
    path: str | Path, wanted: Callable[[str], bool], max_bytes: int, max_total_bytes: int
) -> Iterator[tuple[str, bytes]]:
    """Yield (name, content) of the regular files named `wanted`, in stream order.

    Every byte of the decompressed stream counts towards `max_total_bytes`, each
    member's read or skipped, its headers and padding too, since the stream must be
    decompressed through all of them; so does every member towards MAX_MEMBERS.
    """

    def too_big(where: str) -> ArchiveError:
        return ArchiveError(
            f"archive {path} unpacks to more than the {max_total_bytes}-byte "
            f"limit {where}; raise ingest.max_total_mb if this is really the "
            "dataset"
        )

    total = 0
    try:
        with open(path, "rb") as raw, open_decompressed(raw) as stream:
            reader = ForwardReader(stream, max_total_bytes)
            # ForwardReader has only what tarfile reads with (no write, close), so it is
            # not typeshed's _Fileobj
            with BoundedTarFile.open(fileobj=reader, mode="r:") as archive:  # type: ignore[call-overload]
                for count, member in enumerate(archive.members_once(), 1):
                    if count > MAX_MEMBERS:
                        raise ArchiveError(
                            f"archive {path} holds more than {MAX_MEMBERS} "
                            "members: aclImdb v1 holds about 100,000"
                        )
                    check_member(member, max_bytes)
                    total += member.size
                    if total > max_total_bytes:
                        raise too_big(f"(reached at member {member.name!r})")
                    if member.isfile() and wanted(member.name):
                        reader.seek(member.offset_data)
                        content = reader.read(member.size)
                        if len(content) != member.size:
                            raise ArchiveError(
                                f"archive {path} is truncated inside {member.name!r}"
                            )
                        yield member.name, content
                check_end(reader, archive.offset, path)
    except StreamLimit:
        raise too_big("(headers, padding and trailing blocks included)") from None
    except UnsafeHeader as err:
        raise ArchiveError(f"unsafe archive {path}: {err}") from None
    except IsADirectoryError:
        raise ArchiveError(f"archive {path} is a directory, not a file") from None
    except lzma.LZMAError as err:
        if "memory usage limit" in str(err).lower():
            raise ArchiveError(
                f"archive {path}: its xz decoder would need more than "
                f"{MAX_XZ_MEMORY} bytes (a dictionary of that size); repack it "
                "with xz -9 or less"
            ) from None
        raise ArchiveError(f"archive {path} is corrupt or truncated: {err}") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise ArchiveError(f"archive {path} is corrupt or truncated: {err}") from None
