"""Operating-system errors (full disk, no permission, a directory, a broken pipe) are one line
on stderr and a status, never a traceback; an existing --output survives a failed write."""

from __future__ import annotations

import errno
import io
import os
import resource
import signal
import subprocess
import sys

import pytest
from cli_fakes import fake_command, fake_scorer, model_file, run_cli, set_stdin


def one_line_error(code: int, err: str, status: int = 2) -> None:
    assert code == status, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


class FailingWrites(io.RawIOBase):
    """A file whose writes fail with `error` after `room` bytes (a disk that fills up)."""

    def __init__(self, error: int, room: int):
        self.error, self.room = error, room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(self.error, os.strerror(self.error))
        self.room -= len(data)
        return len(data)


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EIO, errno.EDQUOT])
@pytest.mark.parametrize("room", [0, 30_000])
def test_a_failing_output_file_is_one_line_and_keeps_the_old_one(
    capsys, tmp_path, monkeypatch, error, room
):
    from imdb_sentiment.inference.cli import writers

    fake_scorer(monkeypatch)
    monkeypatch.setattr(
        writers, "open_binary", lambda path, mode: io.BufferedWriter(FailingWrites(error, room))
    )
    target = tmp_path / "scored.csv"
    target.write_text("old results\n")
    set_stdin(monkeypatch, b"a good film\n" * 5_000)
    code, _, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--output", str(target)
    )
    one_line_error(code, err)
    assert f"cannot write {target}: {os.strerror(error)}" in err
    assert target.read_text() == "old results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.keras", "scored.csv"]


def test_a_file_size_limit_is_a_real_write_error_and_keeps_the_old_output(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse writes past a size (EFBIG): a real full disk."""
    target = tmp_path / "scored.csv"
    target.write_text("old results\n")

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    done = subprocess.run(
        fake_command("predict", "--model", model_file(tmp_path), "--output", str(target)),
        input=b"a good film\n" * 5_000,
        capture_output=True,
        timeout=60,
        preexec_fn=small_files,
        check=False,
    )
    one_line_error(done.returncode, done.stderr.decode())
    assert b"File too large" in done.stderr
    assert target.read_text() == "old results\n"


def test_a_full_disk_on_stdout_is_one_line(tmp_path):
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            fake_command("predict", "--model", model_file(tmp_path)),
            input=b"a good film\n" * 5_000,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    one_line_error(done.returncode, done.stderr.decode())
    assert b"cannot write to stdout: No space left on device" in done.stderr


def test_a_directory_as_input_is_one_line(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    folder = tmp_path / "reviews.txt"
    folder.mkdir()
    code, _, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(folder)
    )
    one_line_error(code, err)
    assert "Is a directory" in err


@pytest.mark.parametrize("where", ["mkdir", "open"])
def test_no_permission_to_write_is_one_line(capsys, tmp_path, monkeypatch, where):
    """Root may write anywhere, so the refusal is simulated where the command meets it."""
    from imdb_sentiment.inference.cli import writers

    fake_scorer(monkeypatch)

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    if where == "mkdir":
        monkeypatch.setattr(os, "mkdir", refuse)
    else:
        monkeypatch.setattr(writers, "open_binary", refuse)
    code, _, err = run_cli(
        capsys,
        "predict",
        "--model",
        model_file(tmp_path),
        "--output",
        str(tmp_path / "out.csv"),
        "good",
    )
    one_line_error(code, err)
    assert "Permission denied" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_is_one_line(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    code, _, err = run_cli(
        capsys,
        "predict",
        "--model",
        model_file(tmp_path),
        "--output",
        str(folder / "out.csv"),
        "good",
    )
    one_line_error(code, err)


def test_no_permission_to_read_is_one_line(capsys, tmp_path, monkeypatch):
    from imdb_sentiment.inference.cli import readers

    fake_scorer(monkeypatch)
    source = tmp_path / "in.txt"
    source.write_text("good\n")

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(source))

    monkeypatch.setattr(readers, "open_binary", refuse)
    code, _, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    one_line_error(code, err)
    assert "Permission denied" in err


class FailingReads(io.RawIOBase):
    """stdin that gives some lines, then fails (a disk or network error mid-read)."""

    def __init__(self, data: bytes):
        self.data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self.data:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        size = min(len(buffer), len(self.data))
        buffer[:size] = self.data[:size]
        self.data = self.data[size:]
        return size


def test_a_read_error_mid_stream_is_one_line(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    monkeypatch.setattr(
        sys, "stdin", io.TextIOWrapper(io.BufferedReader(FailingReads(b"good film\n" * 3_000)))
    )
    code, _, err = run_cli(capsys, "predict", "--model", model_file(tmp_path))
    one_line_error(code, err)
    assert "cannot read stdin: Input/output error" in err


def test_a_reader_that_leaves_mid_stream_ends_the_command_quietly(tmp_path):
    """`imdb-sentiment predict < endless | head -3`: status 1, no traceback, no hang."""
    command = fake_command("predict", "--model", model_file(tmp_path))
    feeder = subprocess.Popen(["yes", "a good film"], stdout=subprocess.PIPE)
    running = subprocess.Popen(
        command, stdin=feeder.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    feeder.stdout.close()
    head = [running.stdout.readline() for _ in range(3)]
    running.stdout.close()  # the reader goes away
    try:
        code = running.wait(timeout=60)
    finally:
        running.kill()
        feeder.kill()
    err = running.stderr.read().decode()
    assert head[0].startswith(b"label") and code == 1 and err == "", err


def test_a_replaced_output_keeps_its_permissions(capsys, tmp_path, monkeypatch):
    """A private results file (0600) must not come back world-readable."""
    fake_scorer(monkeypatch)
    target = tmp_path / "scored.csv"
    target.write_text("old\n")
    target.chmod(0o600)
    code, _, _ = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--output", str(target), "good"
    )
    assert code == 0 and target.read_text().startswith("label,")
    assert target.stat().st_mode & 0o777 == 0o600


def test_sigterm_is_one_line_and_leaves_the_old_output(tmp_path):
    """`timeout 10 imdb-sentiment ...` sends SIGTERM: like Ctrl-C, nothing half-written and
    no temporary left behind."""
    import time

    target = tmp_path / "scored.csv"
    target.write_text("old\n")
    running = subprocess.Popen(
        fake_command("predict", "--model", model_file(tmp_path), "--output", str(target)),
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        running.stdin.write(b"a good film\n" * 5_000)
        running.stdin.flush()
        deadline = time.monotonic() + 60
        while len(list(tmp_path.iterdir())) < 3:  # the temporary is there: rows are written
            assert time.monotonic() < deadline and running.poll() is None
            time.sleep(0.02)
        running.send_signal(signal.SIGTERM)
        code = running.wait(timeout=60)
    finally:
        running.kill()
    err = running.stderr.read().decode()
    assert code == 128 + signal.SIGTERM and err == "terminated: nothing written\n", err
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.keras", "scored.csv"]


def test_a_reader_of_stderr_that_leaves_loses_messages_not_rows(tmp_path):
    """Messages are for people: a stderr nobody reads any more must not cut the results short."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader of stderr is gone before the first message
    try:
        done = subprocess.run(
            fake_command("predict", "--model", model_file(tmp_path)),
            input=b"good\n\n" * 3_000,
            stdout=subprocess.PIPE,
            stderr=write_end,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1  # blank rows failed
    assert len(done.stdout.splitlines()) == 1 + 6_000
