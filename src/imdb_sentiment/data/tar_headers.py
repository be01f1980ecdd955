"""Tar headers read with every declared size bounded before tarfile trusts it.

tarfile reads a GNU long name or a pax header whole, follows a chain of them by recursion,
steps back on a negative size and reads a sparse map to its end. `BoundedHeaderInfo`
refuses those before tarfile reads them; `PlainHeaderInfo` parses the plain headers a
review archive is made of without tarfile's slower general path.
"""

from __future__ import annotations

import struct
import tarfile
from collections.abc import Iterator

# A GNU long name or link, or a pax header, is read whole before anything checks it: a
# path is at most 4 KiB on Linux, so 64 KiB is far beyond any honest one.
MAX_HEADER_BYTES = 64 * 1024
# Extended headers in front of one member (a pax global, a pax and a long name and link
# make four); tarfile follows each by recursion.
MAX_HEADER_CHAIN = 8
# Records a global pax header sets for every later member (`git archive` sets one); tarfile
# applies them all to each member.
MAX_GLOBAL_PAX_RECORDS = 64

# a tar header's fields, name to prefix (tarfile.TarInfo.frombuf reads them one by one)
HEADER = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s")
PLAIN_TYPES = (tarfile.REGTYPE, tarfile.DIRTYPE)


class PlainHeaderInfo(tarfile.TarInfo):
    """tarfile's TarInfo, parsing the headers a review archive is made of (regular files
    and directories, octal numbers, checksum right) in one step; any other header, and any
    header this parse doubts, is parsed by tarfile itself, errors included."""

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        if len(buf) != tarfile.BLOCKSIZE or buf[156:157] not in PLAIN_TYPES:
            return super().frombuf(buf, encoding, errors)
        (
            name,
            mode,
            uid,
            gid,
            size,
            mtime,
            chksum,
            type_,
            linkname,
            _,
            uname,
            gname,
            devmajor,
            devminor,
            prefix,
        ) = HEADER.unpack_from(buf)
        try:
            mode, uid, gid, size, mtime, chksum, devmajor, devminor = (
                int(field.split(b"\0", 1)[0].strip() or b"0", 8)
                for field in (mode, uid, gid, size, mtime, chksum, devmajor, devminor)
            )
        except ValueError:  # base-256 or garbled numbers
            return super().frombuf(buf, encoding, errors)
        if chksum != 256 + sum(buf[:148]) + sum(buf[156:]):  # tarfile also accepts signed sums
            return super().frombuf(buf, encoding, errors)
        info = cls()
        info.name = tarfile.nts(name, encoding, errors)
        info.mode, info.uid, info.gid, info.size, info.mtime = mode, uid, gid, size, mtime
        info.chksum, info.type = chksum, type_
        info.linkname = tarfile.nts(linkname, encoding, errors)
        info.uname = tarfile.nts(uname, encoding, errors)
        info.gname = tarfile.nts(gname, encoding, errors)
        info.devmajor, info.devminor = devmajor, devminor
        if info.isdir():
            info.name = info.name.rstrip("/")
        if prefix := tarfile.nts(prefix, encoding, errors):
            info.name = prefix + "/" + info.name
        return info


EXTENDED_HEADERS = {
    tarfile.GNUTYPE_LONGNAME: "GNU long name",
    tarfile.GNUTYPE_LONGLINK: "GNU long link",
    tarfile.XHDTYPE: "pax",
    tarfile.SOLARIS_XHDTYPE: "pax",
    tarfile.XGLTYPE: "pax global",
}


class UnsafeHeader(Exception):
    """A header refused as it is read; iter_files names the archive."""


class BoundedHeaderInfo(PlainHeaderInfo):
    """PlainHeaderInfo, refusing what tarfile would read unbounded, before it reads it: a
    negative size, an extended header body over MAX_HEADER_BYTES, a chain of more than
    MAX_HEADER_CHAIN extended headers, global pax records over MAX_GLOBAL_PAX_RECORDS,
    and sparse members (tarfile reads their map, of any length, to its end)."""

    def _proc_member(self, tarfile_: BoundedTarFile):
        if self.size < 0:
            raise UnsafeHeader(
                f"the header at byte {self.offset} declares a negative size ({self.size})"
            )
        if self.type == tarfile.GNUTYPE_SPARSE:
            self._refuse_sparse()
        kind = EXTENDED_HEADERS.get(self.type)
        if kind is None:
            return super()._proc_member(tarfile_)  # type: ignore[misc]  # private, not in typeshed
        if self.size > MAX_HEADER_BYTES:
            raise UnsafeHeader(
                f"its {kind} header of {self.size} bytes, over the "
                f"{MAX_HEADER_BYTES}-byte limit for names and pax headers, "
                f"at byte {self.offset}"
            )
        if tarfile_.extended_depth >= MAX_HEADER_CHAIN:
            raise UnsafeHeader(
                f"more than {MAX_HEADER_CHAIN} extended headers (GNU long "
                f"names, pax) in front of one member, at byte {self.offset}"
            )
        tarfile_.extended_depth += 1
        try:
            member = super()._proc_member(tarfile_)  # type: ignore[misc]  # private, not in typeshed
        finally:
            tarfile_.extended_depth -= 1
        if len(tarfile_.pax_headers) > MAX_GLOBAL_PAX_RECORDS:
            raise UnsafeHeader(
                f"global pax headers hold more than {MAX_GLOBAL_PAX_RECORDS} records"
            )
        return member

    def _refuse_sparse(self, member: tarfile.TarInfo | None = None, *_) -> None:
        name = (member or self).name[:200]
        raise UnsafeHeader(f"member {name!r} is sparse: sparse files are not allowed")

    # tarfile's readers of the three pax sparse maps, called with the member the pax header
    # is for, before the member is returned
    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _refuse_sparse

    def _apply_pax_info(self, pax_headers, encoding, errors):
        if any(keyword.startswith("GNU.sparse.") for keyword in pax_headers):
            self._refuse_sparse()
        super()._apply_pax_info(pax_headers, encoding, errors)


class BoundedTarFile(tarfile.TarFile):
    """A TarFile reading BoundedHeaderInfo headers, whose members are handed out without
    being kept (TarFile.members would grow by one per member)."""

    tarinfo = BoundedHeaderInfo
    extended_depth = 0  # extended headers being followed right now

    def next(self) -> tarfile.TarInfo | None:
        """TarFile.next, with what tarfile lets escape from a garbled header (a number
        Python refuses to parse: ValueError) reported as the corruption it is."""
        try:
            return super().next()
        except (ValueError, OverflowError, RecursionError) as err:
            raise tarfile.ReadError(f"unreadable header: {err}") from None

    def members_once(self) -> Iterator[tarfile.TarInfo]:
        """Each member in stream order, forgotten once handed out."""
        while (member := self.next()) is not None:
            self.members.clear()  # type: ignore[attr-defined]  # TarFile.members: not in typeshed
            yield member
