"""The pipeline's paths as dvc.yaml's `vars` name them, for the tools that run without the
project's environment: standard library only, so no YAML parser.

dvc.yaml holds them once, as a `paths:` mapping of plain `key: value` lines; the package reads
the same mapping with a YAML parser (`imdb_sentiment.core.locations.pipeline_paths`), and a
test checks that both readings agree.
"""

from __future__ import annotations

import re
from pathlib import Path

PIPELINE_FILE = "dvc.yaml"
_ENTRY = re.compile(r"^(\s+)([A-Za-z_]\w*):\s*(\S+)\s*(?:#.*)?$")


def parse_paths(text: str) -> dict[str, str]:
    """The `paths:` mapping under dvc.yaml's `vars`: key -> path relative to the project."""
    lines = text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if re.match(r"^\s*(?:-\s+)?paths:\s*$", line)), None
    )
    if start is None:
        raise ValueError(f"{PIPELINE_FILE} has no `paths:` mapping under `vars`")
    paths, indent = {}, None
    for line in lines[start + 1 :]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENTRY.match(line)
        if not match or (indent is not None and len(match.group(1)) != indent):
            break
        indent = len(match.group(1))
        paths[match.group(2)] = match.group(3)
    if not paths:
        raise ValueError(f"{PIPELINE_FILE}'s `paths:` mapping is empty")
    return paths


def pipeline_paths(root: Path) -> dict[str, str]:
    """The pipeline's paths of the project at `root`."""
    return parse_paths((root / PIPELINE_FILE).read_text(encoding="utf-8"))
