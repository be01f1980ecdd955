"""Atomic outputs: a stage leaves its complete new outputs, its old ones, or none; never a mix.

Every output is first written to a temporary sibling (`.NAME.tmp-PID-XXXX`),
then renamed into place. A stage with several outputs commits them as one set:
all old outputs are moved aside before any new one moves in, so a kill at any
moment never leaves an old output beside a new one: it leaves the old set, the
new set, or one of them with outputs missing, which DVC sees as a stage to
re-run. Temporaries of killed processes are swept by the next write to the same
path.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from imdb_sentiment.core.errors import PipelineError, WriteError, os_error_reason

TMP_MARK = ".tmp-"
# what a write to an open file fails with: no room, no quota, too large, read-only, the disk
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
MAX_JSON_BYTES = 64 << 20  # the project's JSON files are kilobytes


def _temporaries(path: Path) -> Iterator[Path]:
    """Leftover temporaries of `path` whose writing process is gone."""
    prefix = f".{path.name}{TMP_MARK}"
    if not path.parent.is_dir():
        return
    for sibling in path.parent.iterdir():
        if not sibling.name.startswith(prefix):
            continue
        pid = sibling.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        yield sibling


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def sweep(path: Path) -> None:
    """Delete temporaries of `path` left by killed writers."""
    for leftover in list(_temporaries(path)):
        _remove(leftover)


def _check_kind(path: Path, directory: bool) -> None:
    if path.is_symlink():
        raise PipelineError(f"output {path} is a symbolic link; refusing to replace it")
    if not directory and path.is_dir():
        raise PipelineError(
            f"output {path} is an existing directory; refusing to replace it "
            "with a file (choose another path or remove it yourself)"
        )
    if directory and path.exists() and not path.is_dir():
        raise PipelineError(f"output {path} is an existing file, not a directory")


def _scratch(path: Path) -> Path:
    """A fresh temporary directory beside `path`, named after it and this process."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep(path)
        return Path(
            tempfile.mkdtemp(prefix=f".{path.name}{TMP_MARK}{os.getpid()}-", dir=path.parent)
        )
    except OSError as err:
        raise WriteError(f"cannot write {path}: {os_error_reason(err)}") from None


def _output_of(err: OSError, finals: list[Path], scratches: list[Path]) -> str | None:
    """The output a failed write was for: the one whose temporary it names, or any of them
    for a write error that names no file (a full disk names none); None for any other
    error (a failed read, a network error), which is reported as it is."""
    if err.filename is None:
        return " or ".join(map(str, finals)) if err.errno in WRITE_ERRNOS else None
    written = Path(os.fsdecode(err.filename)).absolute()
    for final, scratch in zip(finals, scratches):
        if written == scratch.absolute() or scratch.absolute() in written.parents:
            return str(final)
    return None


def _commit(finals: list[Path], scratches: list[Path]) -> None:
    """Move the old outputs aside, then the new ones in; on an error, put the old set back
    as far as the file system lets us, and say which output could not be written."""
    moved: list[tuple[Path, Path]] = []  # (old output set aside, its place)
    placed: list[Path] = []
    final = finals[0]
    try:
        for final, scratch in reversed(list(zip(finals, scratches))):
            if final.exists():
                os.replace(final, scratch / f"{final.name}.old")
                moved.append((scratch / f"{final.name}.old", final))
        for final, scratch in zip(finals, scratches):
            os.replace(scratch / final.name, final)
            placed.append(final)
    except OSError as err:
        for new, scratch in zip(placed, scratches):
            with contextlib.suppress(OSError):
                os.replace(new, scratch / f"{new.name}.failed")
        for old, place in moved:
            with contextlib.suppress(OSError):
                os.replace(old, place)
        raise WriteError(f"cannot write {final}: {os_error_reason(err)}") from None


@contextlib.contextmanager
def atomic_outputs(*outputs: tuple[str | Path, bool]) -> Iterator[list[Path]]:
    """Yield a temporary path for each (path, is_directory); on success commit them as a set.

    A directory output's temporary path does not exist yet: create it. On an
    exception nothing is replaced and the temporaries are removed; an OSError
    writing a temporary (a full disk, a file too large) becomes a PipelineError
    naming the output it was for.
    """
    finals = [Path(path) for path, _ in outputs]
    for final, (_, directory) in zip(finals, outputs):
        _check_kind(final, directory)
    scratches = [_scratch(final) for final in finals]
    try:
        try:
            yield [scratch / final.name for scratch, final in zip(scratches, finals)]
        except OSError as err:
            output = _output_of(err, finals, scratches)
            if output is None:
                raise
            raise WriteError(f"cannot write {output}: {os_error_reason(err)}") from None
        for final, (_, directory) in zip(finals, outputs):
            _check_kind(final, directory)  # the world may have changed while we worked
        _commit(finals, scratches)
    finally:
        for scratch in scratches:
            shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: str | Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto `path` only on success.

    An existing directory is never replaced by a file (nor a file by a directory).
    """
    with atomic_outputs((path, directory)) as (tmp,):
        yield tmp


def json_text(data: Any) -> str:
    """Canonical JSON: sorted keys, two-space indent, a final newline; NaN and infinity refused."""
    try:
        return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except ValueError as err:
        raise PipelineError(f"refusing to write non-finite numbers as JSON: {err}") from None


def read_json(path: str | Path) -> Any:
    """A JSON file's content; a missing, broken, huge or too deeply nested file is a
    PipelineError naming it."""
    try:
        content = read_limited(path, MAX_JSON_BYTES, "a JSON file").decode("utf-8")
        return json.loads(content, object_pairs_hook=unique_keys)
    except FileNotFoundError:
        raise PipelineError(f"file not found: {path}") from None
    except RecursionError:
        raise PipelineError(f"cannot read {path} as JSON: nested too deep") from None
    except (OSError, ValueError) as err:  # JSON and UTF-8 decoding errors are ValueErrors
        raise PipelineError(f"cannot read {path} as JSON: {err}") from None


def model_params_path(model: str | Path) -> Path:
    """The params file train saves beside a model: models/model.keras -> models/model.params.json."""
    model = Path(model)
    return model.with_name(model.stem + ".params.json")


def read_limited(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them. A larger file, or one
    that is not a regular file (a device that never ends, a pipe that may never be
    written), is a PipelineError naming it as `what`; other OSErrors are the caller's."""
    # non-blocking, so that opening a pipe with no writer returns at once
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(descriptor).st_mode
    except OSError:
        os.close(descriptor)
        raise
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device or a pipe)"
        raise PipelineError(f"{path} is {kind}, not {what}")
    with os.fdopen(descriptor, "rb") as handle:
        content = handle.read(limit + 1)
    if len(content) > limit:
        raise PipelineError(f"{path} holds more than {limit} bytes, the limit for {what}")
    return content


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict (json.loads' object_pairs_hook). A key named twice is
    a ValueError, since json.loads would keep the last value silently
    (`{"text": "good", "text": "bad"}` read as "bad")."""
    record = dict(pairs)
    if len(record) != len(pairs):
        raise ValueError("an object names the same key twice")
    return record
