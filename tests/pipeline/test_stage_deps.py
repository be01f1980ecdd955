"""dvc.yaml and dvc.lock against the code: every stage tied to its code's fingerprint, and a
committed lock that is not stale."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from imdb_sentiment.pipeline import fingerprint as fp

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
FINGERPRINTS = "fingerprints"


def stages() -> dict[str, dict]:
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    run = next(v["run"] for v in dvc["vars"] if "run" in v)
    paths = next(v["paths"] for v in dvc["vars"] if "paths" in v)
    assert paths["fingerprints"] == FINGERPRINTS
    return {
        name: {
            **stage,
            "cmd": stage["cmd"].replace("${run}", run),
            "deps": [
                d.replace("${paths.fingerprints}", FINGERPRINTS) for d in stage.get("deps", [])
            ],
        }
        for name, stage in dvc["stages"].items()
    }


def test_closure_follows_imports_inside_functions():
    train_files = {p.name for p in fp.closure(fp.STAGE_MODULES["train"]).values()}
    assert {
        "ngram.py",
        "zoo.py",
        "layers.py",
        "text.py",
        "processed.py",
        "params.py",
    } <= train_files
    assert "cli.py" not in train_files and "app.py" not in train_files


def test_every_stage_command_runs_what_its_fingerprint_covers():
    for name, modules in fp.STAGE_MODULES.items():
        assert f"python -m imdb_sentiment.pipeline {name} " in stages()[name]["cmd"]
        assert modules == (f"{fp.PACKAGE}.pipeline.__main__", f"{fp.PACKAGE}.pipeline.{name}")


@pytest.mark.parametrize("name", list(fp.STAGE_MODULES))
def test_every_stage_depends_on_its_fingerprint_and_on_no_source_file(name):
    deps = stages()[name]["deps"]
    assert f"{FINGERPRINTS}/{name}.txt" in deps
    assert not [d for d in deps if d.startswith("src/")]


def test_the_fingerprint_stage_reads_all_the_code():
    stage = stages()["fingerprint"]
    assert stage["deps"] == ["src/imdb_sentiment"]
    assert "--out ${paths.fingerprints}" in stage["cmd"]


def test_comments_docstrings_and_layout_leave_the_digest_alone():
    code = "def f(x):\n    return x + 1\n"
    same = (
        '"""A module."""\n# a comment\n\ndef f(x):\n    """Add one."""\n'
        "    return (x +\n            1)  # why\n"
    )
    assert fp.code_digest(code) == fp.code_digest(same)
    assert fp.code_digest(code) != fp.code_digest(code.replace("1", "2"))
    assert fp.code_digest(code) != fp.code_digest(code.replace("x + 1", "1 + x"))
    assert fp.code_digest("x = None\n") != fp.code_digest("x = ...\n")
    # a module that reads its docstring keeps it in the digest
    reads = '"""One."""\nprint(__doc__)\n'
    assert fp.code_digest(reads) != fp.code_digest(reads.replace("One", "Two"))


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_every_supported_python_writes_the_same_fingerprints(version):
    """The committed fingerprints hold whichever Python a fresh clone runs: `make run`
    then reruns no stage."""
    import json
    import subprocess

    found = sorted(Path("/root/.pyenv/versions").glob(f"{version}.*/bin/python{version}"))
    python = str(found[-1]) if found else shutil.which(f"python{version}")
    if python is None or subprocess.run([python, "-c", ""], capture_output=True).returncode:
        pytest.skip(f"python{version} is not installed")  # (a pyenv shim may not run it)
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from imdb_sentiment.pipeline import fingerprint as fp; "
        "print(json.dumps({s: fp.fingerprint(s) for s in fp.STAGE_MODULES}))"
    )
    result = subprocess.run(
        [python, "-I", "-c", script, str(SRC)], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == {name: fp.fingerprint(name) for name in fp.STAGE_MODULES}


def copy_package(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(
        SRC / "imdb_sentiment", src / "imdb_sentiment", ignore=shutil.ignore_patterns("__pycache__")
    )
    return src


def test_a_docstring_edit_keeps_every_fingerprint_and_a_code_edit_changes_its_stages(tmp_path):
    src = copy_package(tmp_path)
    before = {name: fp.fingerprint(name, src) for name in fp.STAGE_MODULES}
    fitting = src / "imdb_sentiment" / "modeling" / "fitting.py"
    text = fitting.read_text()
    fitting.write_text(text.replace('"""Fit', '"""Fits', 1) + "\n# a closing comment\n")
    assert {name: fp.fingerprint(name, src) for name in fp.STAGE_MODULES} == before
    fitting.write_text(text + "\nEXTRA = 1\n")
    changed = {name for name in fp.STAGE_MODULES if fp.fingerprint(name, src) != before[name]}
    assert changed == {"train"}


def test_editing_the_command_line_or_the_app_changes_no_stage(tmp_path):
    src = copy_package(tmp_path)
    before = {name: fp.fingerprint(name, src) for name in fp.STAGE_MODULES}
    for module in ("inference/app.py", "core/locations.py"):
        path = src / "imdb_sentiment" / module
        path.write_text(path.read_text() + "\nEXTRA = 1\n")
    assert {name: fp.fingerprint(name, src) for name in fp.STAGE_MODULES} == before


def lock_problems(root: Path, src: Path = SRC) -> list[str]:
    """Where a checkout's dvc.lock disagrees with its code and params."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    params = yaml.safe_load((root / "params.yaml").read_text())
    problems = []
    for name in fp.STAGE_MODULES:
        committed = root / FINGERPRINTS / f"{name}.txt"
        if not committed.is_file() or committed.read_text() != fp.fingerprint(name, src):
            problems.append(
                f"{name}: its code changed since {committed.relative_to(root)} was written"
            )
    for name in fp.STAGE_MODULES:
        locked = [d["path"] for d in lock["stages"].get(name, {}).get("deps", [])]
        if f"{FINGERPRINTS}/{name}.txt" not in locked:
            problems.append(f"{name}: the lock has no {FINGERPRINTS}/{name}.txt")
    for name, stage in lock["stages"].items():
        for dep in stage.get("deps", []):
            path = root / dep["path"]
            if dep["path"].startswith(FINGERPRINTS + "/") and (
                not path.is_file() or hashlib.md5(path.read_bytes()).hexdigest() != dep["md5"]
            ):
                problems.append(f"{name}: {dep['path']} differs from the lock")
        for key, value in stage.get("params", {}).get("params.yaml", {}).items():
            current = params
            for part in key.split("."):
                current = current.get(part) if isinstance(current, dict) else None
            if current != value:
                problems.append(f"{name}: param {key} is {current!r}, the lock has {value!r}")
    return problems


def test_committed_lock_comes_from_the_code_and_params_on_this_checkout():
    """dvc.lock (and so metrics/ and the model) was made by exactly this code and params."""
    problems = lock_problems(REPO)
    assert not problems, "dvc.lock is stale; run `dvc repro` on the full data:\n" + "\n".join(
        problems
    )


def test_lock_check_notices_a_changed_module(tmp_path):
    for name in ("dvc.lock", "params.yaml"):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    shutil.copytree(REPO / FINGERPRINTS, tmp_path / FINGERPRINTS)
    src = copy_package(tmp_path)
    train = src / "imdb_sentiment" / "pipeline" / "train.py"
    train.write_text(train.read_text() + "\nEXTRA = 1\n")
    assert any(p.startswith("train: its code changed") for p in lock_problems(tmp_path, src))
