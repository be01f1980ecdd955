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


def filled_spec(root: Path, params: dict) -> dict:
    """dvc.yaml's stages, every ${...} filled from its vars and `params`."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text())
    values = {**params}
    for block in spec.get("vars", []):
        values.update(block)

    def lookup(match: re.Match) -> str:
        node = values
        for key in match.group(1).split("."):
            node = node[key]
        return str(node)

    def fill(node):
        if isinstance(node, str):
            return re.sub(r"\$\{([^}]+)\}", lookup, node)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {fill(key): fill(value) for key, value in node.items()}
        return node

    return fill(spec["stages"])


def stage_commands(root: Path, params: dict) -> dict[str, str]:
    """Each stage's command from dvc.yaml, ${...} filled from its vars and `params`."""
    return {name: stage["cmd"] for name, stage in filled_spec(root, params).items()}


def stage_inputs(root: Path, params: dict) -> list[str]:
    """The paths stages read that no stage writes (such as the evaluate stage's checks),
    less the source tree, which the commands read from this checkout (PYTHONPATH=src)."""
    stages = filled_spec(root, params).values()

    def paths(stage: dict, key: str) -> list[str]:
        return [next(iter(e)) if isinstance(e, dict) else e for e in stage.get(key, [])]

    written = {p for st in stages for key in ("outs", "metrics", "plots") for p in paths(st, key)}
    return sorted(
        {
            dep
            for st in stages
            for dep in paths(st, "deps")
            if dep not in written
            and not any(dep.startswith(f"{out}/") for out in written)
            and not dep.startswith("src/")
        }
    )


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
            log = work / f"{name}.log"
            row = {"stage": name, **run_measured(command, work, log)}
            if name == "train":
                row["epochs"] = train_epochs
                row["epoch_seconds"], row["ms_per_step"] = epoch_times(log.read_text())
            print(json.dumps(row), file=sys.stderr, flush=True)
            results.append(row)
    return results


# Keras' line at the end of each epoch (fit's verbose=2): "590/590 - 226s - 383ms/step - ..."
EPOCH_LINE = re.compile(r"^(\d+)/\1 - (\d+)s - (\d+)ms/step", re.MULTILINE)


def epoch_times(log: str) -> tuple[list[int], list[int]]:
    """Each epoch's seconds and milliseconds a step, from the train stage's log."""
    found = EPOCH_LINE.findall(log)
    return [int(seconds) for _, seconds, _ in found], [int(ms) for _, _, ms in found]


def scratch_workspace(work: Path, params: dict) -> None:
    """params.yaml in an empty directory, with links to this checkout's archive and to every
    other input the stages read but no stage writes."""
    (work / P.PARAMS_FILE).write_text(yaml.safe_dump(params))
    for name in [params["ingest"]["archive"], *stage_inputs(ROOT, params)]:
        link = work / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT / name)


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
