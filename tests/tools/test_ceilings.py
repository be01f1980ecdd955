"""tools/ceilings.py's command line: --help, and bad input as one line. Each run is of a copy
of the script in a scratch folder, which it takes for the repository: it never fits a model
or writes metrics/ceilings.json here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ceilings(root: Path, *args: str) -> subprocess.CompletedProcess:
    """A copy of tools/ceilings.py run with `root` as its repository."""
    script = root / "tools" / "ceilings.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "tools" / "ceilings.py", script)
    return subprocess.run(
        [sys.executable, str(script), *args], cwd=root, capture_output=True, text=True
    )


def test_help_prints_the_usage_and_runs_nothing(tmp_path: Path):
    result = ceilings(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ceilings.py") and "Validation ceilings" in result.stdout
    assert not (tmp_path / "metrics").exists()


def test_a_checkout_without_params_is_one_line(tmp_path: Path):
    result = ceilings(tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"error: params: file not found: {tmp_path / 'params.yaml'}"
    )
