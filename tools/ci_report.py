"""Pull-request report: params and metrics diffs and the evaluation plots of two revisions.

Writes OUT/report.md and the PNGs it embeds. Everything comes from what is committed
at each revision, not from the workspace: the params table is `dvc params diff BASE
HEAD --md`; the metrics table is `dvc metrics diff BASE HEAD --json`, with each
change set against its noise (below); the curves (ROC, precision-recall, reliability,
learning curves) are drawn from both revisions' committed curve files on one figure
each (OUT/overlay/*.png), and the confusion matrices, which cannot be overlaid, side
by side (`git show REV:metrics/eval/<name>.png`). A revision that lacks a plot gets
a line saying so. CI then posts the file with `cml comment update`.

Noise: a rate measured on n items moves by chance with a standard error of
sqrt(p (1 - p) / n); a change smaller than twice that (or, for test accuracy, than
twice the spread over training seeds in metrics/seeds.json, when larger) is marked
"within noise". Metrics that are not rates (ROC AUC, calibration error) get no mark.

    python tools/ci_report.py --base origin/main [--head HEAD] [--out report]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline_paths import pipeline_paths  # tools/, the script's own folder

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Plot:
    """One committed evaluation figure; an optional one is left out when neither side has it."""

    file: str
    title: str
    optional: bool = False


PLOTS = (Plot("confusion_matrix.png", "Confusion matrix (test)"),)


@dataclass(frozen=True)
class Curve:
    """Committed curve data drawn for both revisions on one figure."""

    name: str
    title: str
    output: tuple[str, str]  # dvc.yaml's key of the folder, and the file in it
    x: str
    y: str
    separator: str = ","


CURVES = (
    Curve("roc", "ROC (test)", ("eval_plots", "roc.csv"), "fpr", "tpr"),
    Curve(
        "precision_recall",
        "Precision-recall (test)",
        ("eval_plots", "precision_recall.csv"),
        "recall",
        "precision",
    ),
    Curve(
        "reliability",
        "Reliability (test)",
        ("eval_plots", "reliability.csv"),
        "confidence",
        "accuracy",
    ),
    Curve(
        "training_loss",
        "Training loss per epoch",
        ("live", "plots/metrics/train/loss.tsv"),
        "step",
        "loss",
        "\t",
    ),
    Curve(
        "training_accuracy",
        "Training accuracy per epoch",
        ("live", "plots/metrics/train/accuracy.tsv"),
        "step",
        "accuracy",
        "\t",
    ),
)
SEEDS = "metrics/seeds.json"  # tools/experiments.py's


def output(repo: Path, key: str, name: str = "") -> str:
    """Where a pipeline output (or a file in an output folder) is, by the repository's dvc.yaml."""
    return "/".join(part for part in (pipeline_paths(repo)[key], name) if part)


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
        sys.exit(
            f"error: ci_report: no commit '{name}' in {repo} "
            "(CI: check out with fetch-depth 0 so the base branch is there)"
        )
    return Side(label, name, result.stdout.decode().strip())


def committed(repo: Path, side: Side, path: str) -> bytes | None:
    """A file as committed at the revision, or None."""
    result = git(repo, "show", f"{side.commit}:{path}")
    return result.stdout if result.returncode == 0 else None


def committed_json(repo: Path, side: Side, path: str) -> dict:
    data = committed(repo, side, path)
    try:
        return json.loads(data) if data else {}
    except ValueError:
        return {}


def sample_sizes(repo: Path, head: Side) -> dict[str, int]:
    """How many items each rate metric is measured on, from the head's counts.json."""
    counts = committed_json(repo, head, output(repo, "eval_plots", "counts.json"))
    data = committed_json(repo, head, output(repo, "data_report")).get("counts", {})
    test_reviews = counts.get("test_reviews") or data.get("test_pos", 0) + data.get("test_neg", 0)
    evaluation, robustness = output(repo, "eval"), output(repo, "robustness")
    sizes = {f"{evaluation}:{k}": test_reviews for k in ("accuracy", "precision", "recall", "f1")}
    sizes |= {
        f"{robustness}:{k}": counts.get("contrast_pairs", 0)
        for k in ("contrast_original", "contrast_edited", "contrast_both")
    }
    sizes[f"{robustness}:short_texts"] = counts.get("short_texts", 0)
    for capability, n in counts.get("behaviour", {}).items():
        sizes[f"{output(repo, 'behaviour')}:{capability}"] = n
    return {key: n for key, n in sizes.items() if n}


def noise(value: float, n: int | None, seed_std: float | None = None) -> float | None:
    """Twice the chance variation of a rate `value` measured on `n` items (or of the seeds)."""
    if not n or not 0 <= value <= 1:
        return None
    spread = 2 * math.sqrt(value * (1 - value) / n)
    return max(spread, 2 * seed_std) if seed_std else spread


def metrics_table(repo: Path, base: Side, head: Side) -> str:
    """The changed metrics of HEAD against BASE, each marked within noise or not."""
    cmd = [sys.executable, "-m", "dvc", "metrics", "diff", base.name, head.name, "--json"]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        return f"_`dvc metrics diff` failed: {reason}_"
    diff = json.loads(result.stdout or "{}")
    sizes = sample_sizes(repo, head)
    seed_std = committed_json(repo, head, SEEDS).get("test_accuracy", {}).get("std")
    rows = []
    for path, metrics in sorted(diff.items()):
        for metric, change in sorted(metrics.items()):
            old, new = change.get("old"), change.get("new")
            if old == new:
                continue
            delta = (
                (new - old)
                if isinstance(old, (int, float)) and isinstance(new, (int, float))
                else None
            )
            key = f"{path}:{metric}"
            band = (
                noise(
                    new,
                    sizes.get(key),
                    seed_std if key == f"{output(repo, 'eval')}:accuracy" else None,
                )
                if delta is not None
                else None
            )
            verdict = (
                "-" if band is None or delta is None else ("yes" if abs(delta) < band else "**no**")
            )
            rows.append(
                f"| {path} | {metric} | {fmt(old)} | {fmt(new)} | {fmt(delta)} | "
                f"{fmt(band)} | {verdict} |"
            )
    if not rows:
        return "_No metrics changed._"
    return "\n".join(
        [
            f"| Path | Metric | {base.name} | {head.name} | Change | noise (2 SE) | within noise |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


def fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)


def overlay(repo: Path, base: Side, head: Side, curve: Curve, out: Path) -> str | None:
    """Both revisions' curve on one PNG under out/overlay/; its relative path, or None when
    neither revision has the curve's data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, ax = plt.subplots(figsize=(4.5, 4))
    drawn = 0
    for side, style in ((base, "--"), (head, "-")):
        data = committed(repo, side, output(repo, *curve.output))
        if data is None:
            continue
        try:
            frame = pd.read_csv(io.BytesIO(data), sep=curve.separator)
            ax.plot(
                frame[curve.x],
                frame[curve.y],
                style,
                marker="." if len(frame) < 20 else None,
                label=f"{side.label} `{side.name}`".replace("`", ""),
            )
            drawn += 1
        except (ValueError, KeyError, pd.errors.ParserError):
            continue
    if not drawn:
        plt.close(fig)
        return None
    ax.set(xlabel=curve.x, ylabel=curve.y, title=curve.title)
    ax.legend()
    fig.tight_layout()
    target = out / "overlay" / f"{curve.name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=90)
    plt.close(fig)
    return f"overlay/{curve.name}.png"


def curves_section(repo: Path, base: Side, head: Side, out: Path) -> str:
    """One overlaid figure per curve (base dashed, head solid)."""
    lines = []
    for curve in CURVES:
        path = overlay(repo, base, head, curve, out)
        lines.append(
            f"![{curve.title}: base dashed, head solid]({path})"
            if path
            else f"_no `{output(repo, *curve.output)}` in either revision_"
        )
    return "\n\n".join(lines)


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
    result = git(repo, "show", f"{side.commit}:{output(repo, 'eval_plots', plot.file)}")
    if result.returncode != 0 or not result.stdout.startswith(PNG_SIGNATURE):
        return None
    target = out / side.label / plot.file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(result.stdout)
    return f"{side.label}/{plot.file}"


def plot_cell(repo: Path, path: str | None, plot: Plot, side: Side) -> str:
    """A table cell: the embedded image, or a note that the revision has no such PNG."""
    if path is None:
        return f"_no `{output(repo, 'eval_plots', plot.file)}` in `{side.name}`_"
    return f"![{plot.title}, {side.name}]({path})"


def plots_table(repo: Path, base: Side, head: Side, out: Path) -> str:
    """A markdown table with one row per plot, base on the left and head on the right."""
    rows = [
        f"| | base `{base.name}` ({base.commit[:7]}) | head `{head.name}` ({head.commit[:7]}) |",
        "|---|---|---|",
    ]
    for plot in PLOTS:
        paths = [extract_plot(repo, side, plot, out) for side in (base, head)]
        if plot.optional and paths == [None, None]:
            continue
        cells = [plot_cell(repo, p, plot, s) for p, s in zip(paths, (base, head))]
        rows.append(f"| {plot.title} | {cells[0]} | {cells[1]} |")
    return "\n".join(rows)


def render(repo: Path, base: Side, head: Side, out: Path) -> str:
    """The whole report as markdown; writes the images it embeds under `out`."""
    return "\n".join(
        [
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
            metrics_table(repo, base, head),
            "",
            "## Curves",
            "",
            curves_section(repo, base, head, out),
            "",
            "## Plots",
            "",
            plots_table(repo, base, head, out),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, write OUT/report.md and print its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", required=True, help="revision to compare against, e.g. origin/main"
    )
    parser.add_argument("--head", default="HEAD", help="revision under review (default HEAD)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="output folder")
    parser.add_argument("--repo", type=Path, default=Path("."), help="git + DVC repository")
    args = parser.parse_args(argv)

    repo = args.repo.resolve()
    if not repo.is_dir():
        sys.exit(f"error: ci_report: --repo {args.repo}: no such folder")
    out = args.out.resolve()
    if out.exists() and not out.is_dir():
        sys.exit(f"error: ci_report: --out {args.out}: a file, not a folder")
    base = resolve(repo, args.base, "base")
    head = resolve(repo, args.head, "head")
    try:
        for side in ("base", "head", "overlay"):  # no image left over from an earlier report
            for old in (out / side).glob("*.png"):
                old.unlink()
        out.mkdir(parents=True, exist_ok=True)
        report = out / "report.md"
        report.write_text(render(repo, base, head, out))
    except OSError as err:  # a read-only or full place: no traceback
        sys.exit(f"error: ci_report: cannot write {err.filename or out}: {err.strerror or err}")
    print(f"ci_report: {report}")


if __name__ == "__main__":
    main()
