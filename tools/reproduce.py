"""Rebuild everything from the archive in a scratch clone and compare it with what is committed.

    python tools/reproduce.py [--repo .] [--archive PATH] [--workdir DIR]

Clones the repository's HEAD, runs `dvc repro` there from the raw archive, then
compares every committed metric and every output hash in dvc.lock with the
fresh ones. The rule (docs/reproducibility.md): everything is bit-identical, the
model and its params file, the training curves and the SavedModel included (no tracked output holds
a wall-clock time), except metric values that measure time (`*seconds*`), which are
not compared. The archive is the input, not a
result: the official download and a repacked copy of the same reviews differ as
files, so its hash is named in a note instead, and the reviews it holds are
compared through the ingest stage's table. Prints a table of differences;
exits 1 if any.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import yaml

from imdb_sentiment.core import params as P
from imdb_sentiment.core.errors import PipelineError, exit_on_error
from imdb_sentiment.core.locations import pipeline_paths

# in the data report: which archive file the reviews came from
ARCHIVE_KEY = "archive_sha256"


def flatten(data, prefix: str = "") -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists keep their index."""
    items: Iterable[tuple[object, object]]
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return {prefix: data}
    flat: dict[str, object] = {}
    for key, value in items:
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def compared(key: str) -> bool:
    """Whether a metric key is a result: not a time, not the input archive's identity."""
    return "seconds" not in key and key != ARCHIVE_KEY


def compare_json(name: str, committed: Path, fresh: Path) -> list[tuple[str, str, str, str]]:
    """(file, key, committed, fresh) for every result value that differs."""
    old = flatten(json.loads(committed.read_text())) if committed.is_file() else {}
    new = flatten(json.loads(fresh.read_text())) if fresh.is_file() else {}
    return [
        (name, key, repr(old.get(key, "(absent)")), repr(new.get(key, "(absent)")))
        for key in sorted(set(old) | set(new))
        if compared(key) and old.get(key, "(absent)") != new.get(key, "(absent)")
    ]


def output_hashes(lock: Path) -> dict[str, str]:
    """Each stage output's md5 as dvc.lock records it."""
    stages = yaml.safe_load(lock.read_text())["stages"]
    return {
        out["path"]: out.get("md5", "")
        for stage in stages.values()
        for out in stage.get("outs", [])
    }


def differences(committed: Path, fresh: Path) -> list[tuple[str, str, str, str]]:
    """Every difference between two checkouts' results, by the rule in the module docstring."""
    found = []
    paths = pipeline_paths(committed)
    metric_files = yaml.safe_load((committed / "dvc.yaml").read_text()).get("metrics", [])
    for name in metric_files + [str(paths["model_params"])]:
        found += compare_json(name, committed / name, fresh / name)
    old, new = output_hashes(committed / "dvc.lock"), output_hashes(fresh / "dvc.lock")
    for path in sorted(set(old) | set(new)):
        if old.get(path) != new.get(path):
            found.append(
                (
                    "dvc.lock",
                    f"outs {path} md5",
                    old.get(path, "(absent)"),
                    new.get(path, "(absent)"),
                )
            )
    return found


def archive_note(committed: Path, fresh: Path) -> str | None:
    """A note when the rebuild read another archive file than the committed results did."""
    report = pipeline_paths(committed)["data_report"]
    hashes = [
        json.loads(path.read_text()).get(ARCHIVE_KEY) if path.is_file() else None
        for path in (committed / report, fresh / report)
    ]
    if hashes[0] == hashes[1]:
        return None
    return (
        f"reproduce: note: the archive read here (sha256 {hashes[1]}) is not the file the "
        f"committed results came from (sha256 {hashes[0]}); the reviews in it are compared "
        "(the ingest table's md5 in dvc.lock), not the file"
    )


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("file", "key", "committed", "fresh")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def rebuild(repo: Path, work: Path, archive: Path | None) -> Path:
    """A clone of `repo`'s HEAD under `work`, with every stage re-run from the archive."""
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    target = clone / archive_path(clone)  # an absolute archive path stays where it is
    if archive is not None and not (target.exists() and target.samefile(archive)):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(archive, target)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
    }
    # --force: nothing may come from a run cache; every stage really runs here
    subprocess.run(
        [sys.executable, "-m", "dvc", "repro", "--force"], cwd=clone, env=env, check=True
    )
    return clone


def archive_path(repo: Path) -> Path:
    """Where the ingest stage of the checkout at `repo` reads the archive (params.yaml)."""
    return Path(P.load("ingest", repo / P.PARAMS_FILE).archive)


def find_archive(repo: Path, given: str | None) -> Path | None:
    """The archive to rebuild from: `given` (an error when it names no file), else the
    repository's or the shared one; None when neither is there."""
    if given:
        if not Path(given).is_file():
            raise PipelineError(f"reproduce: --archive {given}: no such file")
        return Path(given)
    archive = archive_path(repo)
    for candidate in (repo / archive, repo.parent / "shared" / "data" / archive.name):
        if candidate.is_file():
            return candidate
    return None  # the ingest stage downloads the official archive


@exit_on_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=".", help="repository whose HEAD is rebuilt")
    parser.add_argument("--archive", help="the aclImdb archive (default: the repo's or shared/)")
    parser.add_argument("--workdir", help="where to build (default: a temporary directory)")
    args = parser.parse_args(argv)
    repo = Path(args.repo).resolve()
    archive = find_archive(repo, args.archive)  # before the work folder: a mistake leaves none
    work = Path(args.workdir or tempfile.mkdtemp(prefix="reproduce-"))
    print(f"reproduce: rebuilding {repo} HEAD in {work}", file=sys.stderr)
    clone = rebuild(repo, work, archive)
    committed = _committed(repo, work)
    rows = differences(committed, clone)
    note = archive_note(committed, clone)
    if note:
        print(note)
    if rows:
        print(table(rows))
        print(f"reproduce: {len(rows)} difference(s) from the committed results")
        return 1
    print("reproduce: every committed metric and output hash was reproduced exactly")
    return 0


def _committed(repo: Path, work: Path) -> Path:
    """The committed results (dvc.yaml, dvc.lock, metrics, the model's params file) of HEAD, untouched."""
    committed = work / "committed"
    subprocess.run(["git", "clone", "-q", str(repo), str(committed)], check=True)
    return committed


if __name__ == "__main__":
    sys.exit(main())
