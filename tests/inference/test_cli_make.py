"""`make predict`: REVIEW, INPUT and OUTPUT reach the command exactly as typed, and run nothing.

make expands `$(...)` in a variable's value wherever the value is used, and when it hands a
variable to a recipe's environment; these tests run `make predict` for real, with a stand-in
`imdb-sentiment` that prints the arguments it was given.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Each is text that make (or a shell) would otherwise run or expand
HOSTILE = [
    "$(shell touch {marker}) a good film",
    "costs $5, $(x) and $$ and ${{HOME}} and $HOME",
    "`touch {marker}` and $(touch {marker}) \"quoted\" 'single' \\ back",
    "$(eval $(shell touch {marker}))",
    "a good film",
]


@pytest.fixture
def stub_venv(tmp_path: Path) -> Path:
    """A VENV whose imdb-sentiment prints a mark, then each argument followed by a NUL, and
    that make takes as installed (its marker newer than pyproject.toml and requirements.lock)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text("")
    script = venv / "bin" / "imdb-sentiment"
    script.write_text(
        "#!/bin/sh\nprintf '\\0ARGV\\0'\nfor arg in \"$@\"; do printf '%s\\0' \"$arg\"; done\n"
    )
    script.chmod(0o755)
    installed = venv / ".installed"
    installed.write_text("")
    now = time.time()
    os.utime(installed, (now, now))
    return venv


def make(
    *args: str, venv: Path | None = None, dry: bool = False
) -> subprocess.CompletedProcess[bytes]:
    command = ["make", "--no-print-directory", "-C", str(REPO)] + (["-n"] if dry else [])
    command += ["predict", *args] + ([f"VENV={venv}"] if venv else [])
    return subprocess.run(command, capture_output=True, timeout=60, check=False)


def argv(done: subprocess.CompletedProcess[bytes]) -> list[str]:
    """The stand-in's arguments, as it printed them (after make's echo of the command)."""
    return done.stdout.decode().split("\0ARGV\0", 1)[1].split("\0")[:-1]


@pytest.mark.parametrize("template", HOSTILE)
def test_a_review_reaches_the_command_exactly_and_runs_nothing(stub_venv, tmp_path, template):
    marker = tmp_path / "ran"
    review = template.format(marker=marker)
    dry = make(f"REVIEW={review}", venv=stub_venv, dry=True)
    assert dry.returncode == 0, dry.stderr
    done = make(f"REVIEW={review}", venv=stub_venv)
    assert done.returncode == 0, done.stderr
    assert argv(done) == ["predict", "--", review]
    assert not marker.exists(), "a value given to make ran a command"


def test_input_and_output_reach_the_command_exactly(stub_venv, tmp_path):
    marker = tmp_path / "ran"
    source = f"in $(shell touch {marker}) $5 $$.csv"
    target = f"out $(x) `touch {marker}` $$.jsonl"
    done = make(f"INPUT={source}", f"OUTPUT={target}", venv=stub_venv)
    assert done.returncode == 0, done.stderr
    assert argv(done) == ["predict", "--output", target, "--input", source]
    assert not marker.exists()


def test_a_review_with_an_output_file_is_not_taken_for_reviews(stub_venv):
    done = make("REVIEW=a good film", "OUTPUT=scored.csv", venv=stub_venv)
    assert done.returncode == 0, done.stderr
    assert argv(done) == ["predict", "--output", "scored.csv", "--", "a good film"]


@pytest.mark.parametrize("given", [[], ["REVIEW="], ["INPUT="]])
def test_nothing_to_classify_is_one_message_and_runs_nothing(stub_venv, tmp_path, given):
    for dry in (True, False):
        done = make(*given, venv=stub_venv, dry=dry)
        assert done.returncode != 0 and done.stdout == b"" or dry
        assert b'give REVIEW="a review"' in done.stderr


def test_an_unset_review_is_not_read_from_make_conditionals(stub_venv, tmp_path):
    """`$(value ...)` in the check: a value made only of a make function is still a value."""
    marker = tmp_path / "ran"
    done = make(f"REVIEW=$(shell touch {marker})", venv=stub_venv)
    assert done.returncode == 0, done.stderr
    assert argv(done)[-1] == f"$(shell touch {marker})" and not marker.exists()
