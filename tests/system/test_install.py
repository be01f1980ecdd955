"""The consumer path: the package built from the repository and installed (not editable) in a
fresh environment loads a model that lives outside any checkout, as `dvc artifacts get` leaves it.

The fresh environment borrows this one's third-party packages (TensorFlow is large) through a
.pth file, so nothing is downloaded but the build tools; the project itself comes only from the
wheel."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "data", "modeling", "pipeline", "evaluation", "inference")


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_environment_loads_a_fetched_model(tiny_pipeline, tmp_path):
    source = tmp_path / "source"  # setuptools writes build/ beside the sources: not in the checkout
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(source),
        ],
        tmp_path,
    )
    wheel = next(wheels.glob("imdb_sentiment-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for package in PACKAGES:
        assert f"imdb_sentiment/{package}/__init__.py" in names, package

    venv = tmp_path / "consumer"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    purelib = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path
    ).stdout.strip()
    borrowed = [p for p in site.getsitepackages() if "site-packages" in p]
    Path(purelib, "borrowed.pth").write_text("\n".join(borrowed) + "\n")
    with zipfile.ZipFile(wheel) as archive:  # installing a wheel is unpacking it into purelib
        archive.extractall(purelib)

    fetched = tmp_path / "elsewhere" / "model.keras"  # no checkout around it
    fetched.parent.mkdir()
    shutil.copy(tiny_pipeline["model"], fetched)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IMDB_SENTIMENT_MODEL")}
    code = (
        "import imdb_sentiment, keras, sys\n"
        "assert 'site-packages' in imdb_sentiment.__file__, imdb_sentiment.__file__\n"
        f"model = keras.models.load_model({str(fetched)!r})\n"
        "print(imdb_sentiment.predict(['a fine film'], model=model)[0])\n"
    )
    out = run([str(python), "-c", code], fetched.parent, env).stdout
    assert 0.0 <= float(out.strip().splitlines()[-1]) <= 1.0
