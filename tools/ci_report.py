"""Pull-request report: params and metrics diffs and the evaluation plots of two revisions.

Writes OUT/report.md and the PNGs it embeds (OUT/base/*.png, OUT/head/*.png).
Everything comes from what is committed at each revision, not from the workspace:
the tables are `dvc params diff BASE HEAD --md` and `dvc metrics diff BASE HEAD --md`,
the images are `git show REV:metrics/eval/<name>.png`. A revision that lacks a plot
gets a line saying so. CI then posts the file with `cml comment update`.

    python tools/ci_report.py --base origin/main [--head HEAD] [--out report]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOT_DIR = "metrics/eval"


@dataclass(frozen=True)
class Plot:
    """One committed evaluation figure; an optional one is left out when neither side has it."""

    file: str
    title: str
    optional: bool = False


PLOTS = (
    Plot("confusion_matrix.png", "Confusion matrix (test)"),
    Plot("roc.png", "ROC (test)"),
    Plot("precision_recall.png", "Precision-recall (test)", optional=True),
    Plot("learning_curves.png", "Learning curves"),
)


@dataclass(frozen=True)
class Side:
    """A revision as the user named it, its commit, and the report subfolder for its images."""

    label: str
    name: str
    commit: str


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run git in `repo`; the caller checks the exit status."""
    return subprocess.run(["git", *args], cwd=repo, capture_output=True)


def resolve(repo: Path, name: str, label: str) -> Side:
    """The commit that `name` points to; exits with status 2 when there is none."""
    result = git(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    if result.returncode != 0:
        sys.exit(f"error: ci_report: no commit '{name}' in {repo} "
                 "(CI: check out with fetch-depth 0 so the base branch is there)")
    return Side(label, name, result.stdout.decode().strip())


def dvc_diff(repo: Path, kind: str, base: Side, head: Side) -> str:
    """`dvc <kind> diff BASE HEAD --md`, or a line saying that nothing changed or why it failed."""
    cmd = [sys.executable, "-m", "dvc", kind, "diff", base.name, head.name, "--md"]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        return f"_`dvc {kind} diff` failed: {reason}_"
    table = result.stdout.strip()
    if len(table.splitlines()) <= 2:  # nothing, or a header and no rows
        return f"_No {kind} changed._"
    return table


def extract_plot(repo: Path, side: Side, plot: Plot, out: Path) -> str | None:
    """Write the revision's committed PNG under out/<side>/; its relative path, or None if absent."""
    result = git(repo, "show", f"{side.commit}:{PLOT_DIR}/{plot.file}")
    if result.returncode != 0 or not result.stdout.startswith(PNG_SIGNATURE):
        return None
    target = out / side.label / plot.file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(result.stdout)
    return f"{side.label}/{plot.file}"


def plot_cell(path: str | None, plot: Plot, side: Side) -> str:
    """A table cell: the embedded image, or a note that the revision has no such PNG."""
    if path is None:
        return f"_no `{PLOT_DIR}/{plot.file}` in `{side.name}`_"
    return f"![{plot.title}, {side.name}]({path})"


def plots_table(repo: Path, base: Side, head: Side, out: Path) -> str:
    """A markdown table with one row per plot, base on the left and head on the right."""
    rows = [f"| | base `{base.name}` ({base.commit[:7]}) | head `{head.name}` ({head.commit[:7]}) |",
            "|---|---|---|"]
    for plot in PLOTS:
        paths = [extract_plot(repo, side, plot, out) for side in (base, head)]
        if plot.optional and paths == [None, None]:
            continue
        cells = [plot_cell(p, plot, s) for p, s in zip(paths, (base, head))]
        rows.append(f"| {plot.title} | {cells[0]} | {cells[1]} |")
    return "\n".join(rows)


def render(repo: Path, base: Side, head: Side, out: Path) -> str:
    """The whole report as markdown; writes the images it embeds under `out`."""
    return "\n".join([
        f"# Model report: `{head.name}` against `{base.name}`",
        "",
        "Params, metrics and plots are the **committed** full-data results of each revision "
        "(`dvc.lock`, `metrics/`). CI's own pipeline run is a small seeded slice that only "
        "proves the pipeline runs; its numbers are not shown here.",
        "",
        "## Params",
        "",
        dvc_diff(repo, "params", base, head),
        "",
        "## Metrics",
        "",
        dvc_diff(repo, "metrics", base, head),
        "",
        "## Plots",
        "",
        plots_table(repo, base, head, out),
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, write OUT/report.md and print its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="revision to compare against, e.g. origin/main")
    parser.add_argument("--head", default="HEAD", help="revision under review (default HEAD)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="output folder")
    parser.add_argument("--repo", type=Path, default=Path("."), help="git + DVC repository")
    args = parser.parse_args(argv)

    repo = args.repo.resolve()
    base = resolve(repo, args.base, "base")
    head = resolve(repo, args.head, "head")
    out = args.out.resolve()
    for side in ("base", "head"):  # no image left over from an earlier report
        for old in (out / side).glob("*.png"):
            old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    report = out / "report.md"
    report.write_text(render(repo, base, head, out))
    print(f"ci_report: {report}")


if __name__ == "__main__":
    main()
