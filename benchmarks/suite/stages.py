"""The stages of dvc.yaml, run as dvc.yaml runs them in a scratch directory: wall time and
peak memory of each, and of the ingest stage over rounds."""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import yaml

from imdb_sentiment.core import params as P

from .harness import ROOT, run_measured, spread


def stage_commands(root: Path, params: dict) -> dict[str, str]:
    """Each stage's command from dvc.yaml, ${...} filled from its vars and `params`."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text())
    values = {**params}
    for block in spec.get("vars", []):
        values.update(block)

    def lookup(match: re.Match) -> str:
        node = values
        for key in match.group(1).split("."):
            node = node[key]
        return str(node)

    return {
        name: re.sub(r"\$\{([^}]+)\}", lookup, stage["cmd"])
        for name, stage in spec["stages"].items()
    }


def stages(train_epochs: int = 1, sample_per_class: int | None = None) -> list[dict]:
    """Every stage of dvc.yaml in a scratch directory; train for `train_epochs`.

    Full data unless `sample_per_class` (ingest.sample_per_class) asks for a quick look.
    """
    params = yaml.safe_load((ROOT / P.PARAMS_FILE).read_text())
    params["train"]["epochs"] = train_epochs
    params["ingest"]["sample_per_class"] = sample_per_class
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as scratch:
        work = Path(scratch)
        scratch_workspace(work, params)
        for name, command in stage_commands(ROOT, params).items():
            row = {"stage": name, **run_measured(command, work, work / f"{name}.log")}
            if name == "train":
                row["epochs"] = train_epochs
            print(json.dumps(row), file=sys.stderr, flush=True)
            results.append(row)
    return results


def scratch_workspace(work: Path, params: dict) -> None:
    """params.yaml and the archive (a link to this checkout's) in an empty directory."""
    (work / P.PARAMS_FILE).write_text(yaml.safe_dump(params))
    archive = work / params["ingest"]["archive"]
    archive.parent.mkdir(parents=True)
    archive.symlink_to(ROOT / params["ingest"]["archive"])


def ingest(rounds: int) -> dict:
    """The ingest stage on the full archive, as dvc.yaml runs it, in `rounds` fresh processes."""
    params = yaml.safe_load((ROOT / P.PARAMS_FILE).read_text())
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as scratch:
        work = Path(scratch)
        scratch_workspace(work, params)
        command = stage_commands(ROOT, params)["ingest"]
        for _ in range(rounds):
            runs.append(run_measured(command, work, work / "ingest.log"))
            print(json.dumps({"ingest": runs[-1]}), file=sys.stderr, flush=True)
    return spread(runs, ("seconds", "peak_mib"))
