"""What the commands need of a machine (time, memory, disk), from `make timings`' run log."""

from __future__ import annotations

from .formatting import gib, minutes, missing, num, table
from .sources import TIMINGS, Sources


def machine_needs(src: Sources) -> str:
    """What the commands took on the machine `make timings` last described."""
    timings = src.get(TIMINGS)
    if not timings or not timings.get("stages"):
        return missing(TIMINGS, "no published run log (`make timings` after `make run`)")
    stages, tests, disk, machine = (
        timings["stages"],
        timings.get("tests", {}),
        timings.get("disk_mib", {}),
        timings["machine"],
    )
    rows = [
        [
            "`make run`'s stages, each as last logged (the install not included)",
            minutes(sum(s["seconds"] for s in stages.values())),
            f"{max(s['peak_memory_mib'] for s in stages.values()) / 1024:.1f} GiB (train)"
            if "train" in stages
            else "-",
        ]
    ]
    for tier, command in (("full", "make test"), ("fast", "make test-fast")):
        if tier in tests:
            rows.append([f"`{command}`", minutes(tests[tier]["seconds"]), "-"])
    rows.append(["disk: the environment (.venv)", "-", gib(disk.get("venv"))])
    data = sum(v for k, v in disk.items() if k in ("data", "dvc_cache", "models") and v)
    rows.append(["disk: data, DVC cache and models", "-", gib(data)])
    return (
        f"Measured on {machine['cpus']} CPUs and {num(machine['memory_gib'])} GiB "
        f"(`make timings`, {timings['measured']}):\n\n"
        + table(["command or need", "time", "memory or disk"], rows)
    )
