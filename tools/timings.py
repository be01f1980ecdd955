"""Publish what this machine needed: the run log's times and peaks -> benchmarks/timings.json.

The stages (`core.runlog`) and test sessions (tests/conftest.py) write their wall-clock
times and peak memory to logs/, which git ignores, so a run that reproduces every
result leaves git clean. When a person chooses to publish those facts (after a full
`make run` and `make test`), this gathers them with the machine's size and the disk
that the environment, the data and the DVC cache take:

    python tools/timings.py            # -> benchmarks/timings.json; then `make docs`

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "preprocess", "train", "evaluate", "export")
TIERS = ("full", "fast")
DISK = {"venv": ".venv", "data": "data", "dvc_cache": ".dvc/cache", "models": "models"}


def folder_mib(path: Path) -> float | None:
    """Bytes under `path` (links not followed) in MiB, or None when it is absent."""
    if not path.exists():
        return None
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return round(total / 2**20, 1)


def memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def read_log(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def gather(root: Path, logs: Path) -> dict:
    """The published record: machine, disk, each stage's and test tier's log entry."""
    stages = {name: read_log(logs / "stages" / f"{name}.json") for name in STAGES}
    tests = {tier: read_log(logs / "tests" / f"{tier}.json") for tier in TIERS}
    return {
        "measured": date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": memory_gib(),
            "python": platform.python_version(),
            "system": platform.system(),
        },
        "disk_mib": {name: folder_mib(root / rel) for name, rel in DISK.items()},
        "stages": {name: entry for name, entry in stages.items() if entry},
        "tests": {tier: entry for tier, entry in tests.items() if entry},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "timings.json")
    args = parser.parse_args(argv)
    record = gather(args.root, args.root / "logs")
    missing = [n for n in STAGES if n not in record["stages"]] + [
        f"tests-{t}" for t in TIERS if t not in record["tests"]
    ]
    if missing:
        print(
            f"timings: no log yet for {', '.join(missing)} (run make run / make test / "
            f"make test-fast first); publishing the rest",
            file=sys.stderr,
        )
    try:
        args.out.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as err:
        print(f"timings: error: cannot write {args.out}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"timings: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
