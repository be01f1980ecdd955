"""tools/timings.py: what it cannot write is one line, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_out_in_a_missing_folder_is_one_line(tmp_path: Path):
    out = tmp_path / "nowhere" / "timings.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "timings.py"),
            "--root",
            str(tmp_path),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"timings: error: cannot write {out}: No such file or directory"
    )
