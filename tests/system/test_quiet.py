"""Quiet everywhere: the Python API and the stages print none of TensorFlow's, absl's or CUDA's
log lines unless asked (the CLI's and the app's own tests cover theirs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOISE = re.compile(
    r"cuda|cuInit|absl|oneDNN|I0000|W0000|E0000|tensorflow/|TF-TRT|rebuild TensorFlow",
    re.IGNORECASE,
)


def quiet_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "IMDB_SENTIMENT_VERBOSE")
    }
    return {**env, "PYTHONPATH": str(REPO / "src")}


def noise_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if NOISE.search(line)]


@pytest.mark.slow
@pytest.mark.parametrize(
    "call",
    [
        "import imdb_sentiment\nprint(imdb_sentiment.predict(['good'], model=MODEL))",
        "from imdb_sentiment.inference import labelling, scoring\n"
        "print(labelling.score_texts(scoring.load_model(MODEL), ['good']))",
    ],
)
def test_the_python_api_prints_no_tensorflow_lines(tiny_pipeline, call):
    code = f"MODEL = {str(tiny_pipeline['model'])!r}\n{call}\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=quiet_env(),
        cwd=tiny_pipeline["root"],
    )
    assert result.returncode == 0, result.stderr
    assert noise_in(result.stderr) == [], result.stderr


@pytest.mark.slow
def test_the_export_stage_prints_no_tensorflow_lines(tiny_pipeline, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "imdb_sentiment.pipeline",
            "export",
            "--model",
            str(tiny_pipeline["model"]),
            "--out",
            str(tmp_path / "serving"),
        ],
        capture_output=True,
        text=True,
        env=quiet_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert noise_in(result.stderr) == [], result.stderr
