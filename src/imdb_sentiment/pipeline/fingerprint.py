"""Stage 0, fingerprint: what each stage's code does, without its docstrings, comments or layout.

DVC reruns a stage when a dependency's bytes change, so a stage that depended on
its source files directly would rerun (twenty minutes for train) after an edit to
a comment. Instead each stage depends on its fingerprint file, written here: one
line per module the stage runs (found by following its imports), holding a digest
of the module's syntax tree with docstrings dropped, written out node by node.
A comment, docstring or formatting edit leaves every fingerprint as it was, so
`dvc repro` reruns only this stage (a second); any edit that can change what the
code does changes a digest and reruns the stages that run that module. A module
that reads its own `__doc__` keeps its docstrings in the digest.

The tree is written without positions and without the fields a newer Python adds
empty (`type_params` since 3.12), so every supported Python gives the same digests:
`ast.unparse` and `ast.dump` print some code differently from one version to the next.

Standard library only: it runs before, and without, NumPy or TensorFlow.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import sys
from pathlib import Path

PACKAGE = "imdb_sentiment"
SRC = Path(__file__).resolve().parents[2]
# What each stage command runs: the launcher and the stage's module.
STAGE_MODULES = {
    name: (f"{PACKAGE}.pipeline.__main__", f"{PACKAGE}.pipeline.{name}")
    for name in ("ingest", "preprocess", "train", "evaluate", "export")
}


def module_path(name: str, src: Path = SRC) -> Path | None:
    """The file of a project module (imdb_sentiment.x.y), or None for anything else."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    path = src.joinpath(*name.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return path / "__init__.py" if (path / "__init__.py").is_file() else None


def imported_modules(path: Path, src: Path = SRC) -> set[str]:
    """Project modules a file imports anywhere in it (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            candidates = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {name for name in candidates if module_path(name, src) is not None}
    return found


def closure(modules: tuple[str, ...] | list[str], src: Path = SRC) -> dict[str, Path]:
    """Modules that running `modules` imports: themselves, their imports and their packages,
    transitively; name -> file."""
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        path = module_path(name, src)
        if name in seen or path is None:
            continue
        seen[name] = path
        todo += imported_modules(path, src)
        if "." in name:
            todo.append(name.rpartition(".")[0])
    return seen


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def normal_form(node: object) -> str:
    """A syntax tree as text: node types and fields, no positions, and no field that is
    None or an empty list (so the fields newer Pythons add, empty, do not show)."""
    if isinstance(node, ast.AST):
        fields = (
            f"{name}={normal_form(value)}"
            for name, value in ast.iter_fields(node)
            if value is not None and value != []
        )
        return f"{type(node).__name__}({', '.join(fields)})"
    if isinstance(node, list):
        return f"[{', '.join(normal_form(item) for item in node)}]"
    return repr(node)


def code_digest(source: str) -> str:
    """A digest of what `source` does: its syntax tree written out, without docstrings
    unless it reads `__doc__`, so comments, docstrings and layout do not count."""
    tree = ast.parse(source)
    reads_doc = any(isinstance(n, ast.Name) and n.id == "__doc__" for n in ast.walk(tree))
    normal = normal_form(tree if reads_doc else _without_docstrings(tree))
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def fingerprint(stage: str, src: Path = SRC) -> str:
    """The fingerprint file's text for one stage: `module digest` per line, sorted."""
    modules = closure(STAGE_MODULES[stage], src)
    return "".join(
        f"{name} {code_digest(path.read_text(encoding='utf-8'))}\n"
        for name, path in sorted(modules.items())
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for one <stage>.txt per stage")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for stage in STAGE_MODULES:
        path, text = out / f"{stage}.txt", fingerprint(stage)
        # unchanged files are left alone, so nothing downstream sees a new timestamp
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"fingerprint: {stage}'s code changed", file=sys.stderr)


if __name__ == "__main__":
    main()
