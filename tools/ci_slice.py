"""The real pipeline on a seeded slice of IMDb, in a scratch clone: does it run, and is it
then up to date?

Clones the repository's HEAD into a scratch folder (the repository's own data/, models/,
metrics/ and dvc.lock are never touched), writes slice params into the clone's
params.yaml, runs `dvc repro --no-run-cache` (every stage really runs), then a second
`dvc repro` that must run nothing. The clone shares the repository's DVC cache, which
CI keeps between runs. The archive comes from, in this order: --archive (an error when it
names no file; default ../shared/data/aclImdb_v1.tar.gz beside the repository, if there); the
DVC cache; the DVC remote at $DVC_REMOTE_URL when set; else the ingest stage downloads it and
checks its sha256.

    python tools/ci_slice.py [--repo .] [--set train.epochs=2 ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from imdb_sentiment.core import params as P
from imdb_sentiment.core.errors import exit_on_error, shown
from imdb_sentiment.core.locations import pipeline_paths

# The real-slice test's sizes (tests/pipeline/test_pipeline.py), one epoch: a few minutes on 2 cores.
SLICE_PARAMS: dict[str, object] = {
    "ingest.sample_per_class": 300,
    "preprocess.vocab_size": 5000,
    "preprocess.max_len": 200,
    "preprocess.min_count": 2,
    "preprocess.pretrain_dim": 16,
    "train.units": [16],
    "train.embedding_dim": 16,
    "train.epochs": 1,
    "train.batch_size": 32,
}


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command with the current interpreter's bin/ first on PATH; echo its output."""
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    print(f"+ {' '.join(cmd)}", flush=True)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    print(result.stdout + result.stderr, end="", flush=True)
    if check and result.returncode != 0:
        sys.exit(f"error: ci_slice: `{' '.join(cmd)}` exited with {result.returncode}")
    return result


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`python -m dvc ARGS` with this interpreter, so stages get this environment's python."""
    return run([sys.executable, "-m", "dvc", *args], cwd, check)


def parse_sets(pairs: list[str]) -> dict[str, object]:
    """KEY=VALUE pairs, each VALUE read as YAML (as `dvc exp run -S` does)."""
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            sys.exit(f"error: ci_slice: --set needs KEY=VALUE, got '{pair}'")
        try:
            values[key] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or "not YAML"
            sys.exit(f"error: ci_slice: --set {key}: {shown(value)} is not YAML: {problem}")
    return values


def write_params(path: Path, values: dict[str, object]) -> None:
    """Set dotted keys (section.key or a top-level key) in a params.yaml."""
    params = yaml.safe_load(path.read_text())
    for dotted, value in values.items():
        *sections, key = dotted.split(".")
        node = params
        for depth, section in enumerate(sections, 1):
            node = node.setdefault(section, {})
            if not isinstance(node, dict):
                sys.exit(
                    f"error: ci_slice: --set {dotted}: {'.'.join(sections[:depth])} is "
                    f"{shown(node)} in params.yaml, not a section"
                )
        node[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def scratch_clone(repo: Path, target: Path, cache: Path) -> str:
    """Clone the repository's HEAD commit into `target`, using DVC cache `cache`; the commit."""
    commit = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    run(["git", "clone", "-q", "--no-checkout", str(repo), str(target)], repo.parent)
    run(["git", "checkout", "-q", "--detach", commit], target)
    dvc("cache", "dir", "--local", str(cache), cwd=target)
    return commit


def place_archive(clone: Path, archive: Path | None) -> str:
    """Put the archive into the clone; says where it came from."""
    relative = P.load("ingest", clone / P.PARAMS_FILE).archive
    target = clone / relative
    if archive is not None and archive.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(archive, target)
        return str(archive)
    if dvc("checkout", "-q", relative, cwd=clone, check=False).returncode == 0 and target.is_file():
        return "the DVC cache"
    url = os.environ.get("DVC_REMOTE_URL", "")
    if url:
        dvc("remote", "add", "--local", "--force", "-d", "ci", url, cwd=clone)
        dvc("pull", relative, cwd=clone)
        return "the DVC remote at $DVC_REMOTE_URL"
    return "nowhere yet: the ingest stage downloads it"


def reproduce(clone: Path) -> None:
    """Run every stage, then check that a second `dvc repro` has nothing to do."""
    dvc("repro", "--no-run-cache", cwd=clone)
    second = dvc("repro", cwd=clone)
    if "Running stage" in second.stdout:
        sys.exit(
            "error: ci_slice: the second `dvc repro` ran stages again: the pipeline is not "
            "reproducible (an undeclared dependency or output, or a non-deterministic stage)"
        )
    dvc("metrics", "show", "--md", str(pipeline_paths(clone)["eval"]), cwd=clone)


@exit_on_error
def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the slice, report where it ran and how long it took."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--repo", type=Path, default=Path("."), help="git + DVC repository")
    parser.add_argument(
        "--archive",
        type=Path,
        help="IMDb archive (default: "
        "../shared/data/aclImdb_v1.tar.gz beside the repository, if there)",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a slice param, e.g. train.epochs=2 (repeatable)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="DVC cache for the clone "
        "(default: the repository's .dvc/cache, which CI keeps between runs)",
    )
    parser.add_argument("--keep", type=Path, help="clone into this new folder and keep it")
    args = parser.parse_args(argv)

    # checked before the clone and the pipeline run, which take minutes
    if args.archive is not None and not args.archive.is_file():
        sys.exit(f"error: ci_slice: --archive {args.archive}: no such file")
    params = {**SLICE_PARAMS, **parse_sets(args.sets)}
    start = time.monotonic()
    repo = args.repo.resolve()
    archive = args.archive or repo.parent / "shared" / "data" / "aclImdb_v1.tar.gz"
    with tempfile.TemporaryDirectory(prefix="ci-slice-") as tmp:
        clone = args.keep.resolve() if args.keep else Path(tmp) / "repo"
        cache = (args.cache_dir or repo / ".dvc" / "cache").resolve()
        commit = scratch_clone(repo, clone, cache)
        # before the archive, which may come from a slow pull: a --set that fits no section
        # fails at once, and a --set ingest.archive is where the archive is put
        write_params(clone / "params.yaml", params)
        print(
            f"ci_slice: commit {commit[:7]} in {clone}; archive from {place_archive(clone, archive)}"
        )
        reproduce(clone)
    print(
        f"ci_slice: pipeline ran on the slice and is up to date; {time.monotonic() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
