"""dvc.yaml and dvc.lock against the code: complete stage deps, and a lock that is not stale."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = "imdb_sentiment"


def module_path(name: str) -> Path | None:
    """The file of a project module (imdb_sentiment.x), or None for anything else."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    path = SRC.joinpath(*name.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return path / "__init__.py" if (path / "__init__.py").is_file() else None


def imported_modules(path: Path) -> set[str]:
    """Project modules a file imports anywhere in it (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            candidates = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {name for name in candidates if module_path(name) is not None}
    return found


def closure(module: str) -> set[Path]:
    """Files a module runs when imported: itself, its imports and their packages, transitively."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or module_path(name) is None:
            continue
        seen.add(name)
        todo += imported_modules(module_path(name))
        if "." in name:
            todo.append(name.rpartition(".")[0])
    return {module_path(name) for name in seen}


def docstring_only(path: Path) -> bool:
    """True for a module that runs nothing (a package's __init__ holding only its docstring)."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
               for node in body)


def stage_modules(cmd: str) -> list[str]:
    """Modules a stage command starts: `python -m M [NAME]` (the stage launcher runs NAME)."""
    words = cmd.split()
    module = words[words.index("-m") + 1]
    if module == f"{PACKAGE}.pipeline":
        return [f"{module}.__main__", f"{module}.{words[words.index('-m') + 2]}"]
    return [module]


def stages() -> dict[str, dict]:
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    run = next(v["run"] for v in dvc["vars"] if "run" in v)
    return {name: {**stage, "cmd": stage["cmd"].replace("${run}", run)}
            for name, stage in dvc["stages"].items()}


def test_closure_follows_imports_inside_functions():
    train_files = {p.name for p in closure(f"{PACKAGE}.pipeline.train")}
    assert {"ngram.py", "zoo.py", "layers.py", "text.py", "processed.py", "params.py"} <= train_files
    assert "cli.py" not in train_files and "app.py" not in train_files


@pytest.mark.parametrize("name", list(stages()))
def test_every_stage_depends_on_every_module_it_runs(name):
    stage = stages()[name]
    deps = {str(d) for d in stage["deps"]}
    needed = set().union(*(closure(m) for m in stage_modules(stage["cmd"])))
    missing = sorted(str(p.relative_to(REPO)) for p in needed
                     if str(p.relative_to(REPO)) not in deps and not docstring_only(p))
    assert not missing, f"dvc.yaml stage {name} misses deps {missing}"
    extra = sorted(d for d in deps if d.startswith("src/") and REPO / d not in needed)
    assert not extra, f"dvc.yaml stage {name} depends on {extra}, which it never imports"


def test_code_for_using_the_model_reruns_no_training():
    """Editing the command line or the web app must not re-run training."""
    train = {str(d) for d in stages()["train"]["deps"]}
    for module in ("inference/cli.py", "inference/app.py", "core/locations.py",
                   "inference/labelling.py", "pipeline/export.py", "pipeline/evaluate.py"):
        assert f"src/{PACKAGE}/{module}" not in train


def lock_problems(root: Path) -> list[str]:
    """Where a checkout's dvc.lock disagrees with its code and params."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    params = yaml.safe_load((root / "params.yaml").read_text())
    problems = []
    for name, stage in lock["stages"].items():
        for dep in stage.get("deps", []):
            path = root / dep["path"]
            if dep["path"].startswith("src/"):
                if not path.is_file():
                    problems.append(f"{name}: {dep['path']} no longer exists")
                elif hashlib.md5(path.read_bytes()).hexdigest() != dep["md5"]:
                    problems.append(f"{name}: {dep['path']} changed since the lock was written")
        for key, value in stage.get("params", {}).get("params.yaml", {}).items():
            current = params
            for part in key.split("."):
                current = current.get(part) if isinstance(current, dict) else None
            if current != value:
                problems.append(f"{name}: param {key} is {current!r}, the lock has {value!r}")
        expected = {str(d) for d in stages().get(name, {}).get("deps", [])
                    if str(d).startswith("src/")}
        locked = {d["path"] for d in stage.get("deps", []) if d["path"].startswith("src/")}
        if root == REPO and expected != locked:
            problems.append(f"{name}: dvc.yaml deps {sorted(expected ^ locked)} are not in the lock")
    return problems


def test_committed_lock_comes_from_the_code_and_params_on_this_checkout():
    """dvc.lock (and so metrics/ and the model) was made by exactly this code and params."""
    problems = lock_problems(REPO)
    assert not problems, "dvc.lock is stale; run `dvc repro` on the full data:\n" + \
        "\n".join(problems)


def test_lock_check_notices_a_changed_module(tmp_path):
    for name in ("dvc.lock", "params.yaml"):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    locked = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]["train"]["deps"]
    module = next(d["path"] for d in locked if d["path"].endswith("train.py"))
    (tmp_path / module).parent.mkdir(parents=True)
    (tmp_path / module).write_text("# edited\n")
    assert any("train.py changed" in p for p in lock_problems(tmp_path))
