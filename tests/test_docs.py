"""The docs: generated blocks match the committed result files, the README stays short, and
relative links point at files that exist.

Nothing here writes to the repository: the check against the repository's own files compares
in memory, and the generator is exercised on a temporary copy.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_LIMIT = 10_000
# Written by someone else and maybe not committed yet: links to it are skipped while git
# does not have the file. Every other link must resolve.
OPTIONAL_LINK_TARGETS = {"docs/ci.md"}
RESULT_FILES = ["metrics/eval.json", "metrics/train/metrics.json", "models/model.params.json",
                "metrics/data.json", "metrics/preprocess.json", "metrics/seeds.json",
                "metrics/experiments.json", "metrics/ceilings.json",
                "benchmarks/results.json"]


def load_docs_tool():
    spec = importlib.util.spec_from_file_location("docs_tool", ROOT / "tools" / "docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs = load_docs_tool()


def markdown_files() -> list[Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def snapshot(paths: list[Path]) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths if p.is_file()}


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The markdown files and the result files in a scratch tree."""
    for rel in ["README.md", *RESULT_FILES]:
        if (ROOT / rel).is_file():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, tmp_path / rel)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2) + "\n")


def stale_names(root: Path) -> set[str]:
    return {f"{path.relative_to(root)}:{name}"
            for path, (_, names) in docs.stale_blocks(root).items() for name in names}


# The repository's own files -------------------------------------------------------------------

def test_generated_blocks_match_the_committed_results():
    before = snapshot(markdown_files())
    stale = stale_names(ROOT)
    assert snapshot(markdown_files()) == before  # compared in memory, nothing written
    assert not stale, f"stale generated blocks {sorted(stale)}: run `make docs`"


def test_every_block_has_a_generator_and_the_readme_uses_blocks():
    text = (ROOT / "README.md").read_text()
    assert "<!-- generated:readme-results -->" in text
    assert "<!-- generated:seeds-summary -->" in text
    for path in markdown_files():
        for name in docs.OPENER.findall(path.read_text()):
            assert name in docs.GENERATORS, f"{path.name}: unknown block {name}"


def test_readme_is_short():
    size = len((ROOT / "README.md").read_text(encoding="utf-8"))
    assert size <= README_LIMIT, f"README.md has {size} characters (limit {README_LIMIT})"


def test_readme_keeps_the_setup_commands():
    text = (ROOT / "README.md").read_text()
    assert "make run" in text and "make test" in text  # CI runs the README's test command


def git_tracked(rel: str) -> bool:
    try:
        result = subprocess.run(["git", "ls-files", "--error-unmatch", rel], cwd=ROOT,
                                capture_output=True, text=True)
    except OSError:
        return (ROOT / rel).exists()
    return result.returncode == 0


CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = CODE.sub("", path.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


def relative_links(path: Path) -> list[str]:
    text = CODE.sub("", path.read_text(encoding="utf-8"))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_relative_links_point_at_existing_files():
    broken, checked = [], 0
    for source in markdown_files():
        for target in relative_links(source):
            file_part, _, anchor = target.partition("#")
            resolved = (source.parent / file_part).resolve() if file_part else source
            rel = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else None
            if rel in OPTIONAL_LINK_TARGETS and not git_tracked(rel):
                continue
            checked += 1
            if not resolved.exists():
                broken.append(f"{source.relative_to(ROOT)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{source.relative_to(ROOT)}: {target} (no such heading)")
    assert checked > 10
    assert not broken, broken


# The generator, on a scratch copy -------------------------------------------------------------

def test_a_changed_metric_makes_its_blocks_stale(copy: Path, capsys):
    assert docs.main(["--check", "--root", str(copy)]) == 0
    edit_json(copy / "metrics/eval.json", lambda d: d.update(accuracy=0.5))
    before = snapshot(list(copy.rglob("*.md")))

    assert docs.main(["--check", "--root", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "stale: README.md [readme-results]" in out
    assert "stale: docs/results.md [results-test]" in out
    assert "docs/benchmarks.md" not in out
    assert snapshot(list(copy.rglob("*.md"))) == before  # --check writes nothing

    assert docs.main(["--root", str(copy)]) == 0
    assert "| 0.5 |" in (copy / "README.md").read_text()
    assert docs.main(["--check", "--root", str(copy)]) == 0


def test_check_from_the_command_line(copy: Path):
    edit_json(copy / "benchmarks/results.json",
              lambda d: d["inference"].update(batch_reviews_per_s=1234.5))
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "docs.py"), "--check",
                             "--root", str(copy)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "stale: docs/benchmarks.md [bench-inference]" in result.stdout
    assert "stale: docs/usage.md [bench-inference]" in result.stdout
    assert "stale: README.md [readme-results]" in result.stdout


def test_seeds_file_absent_then_present(copy: Path):
    (copy / "metrics/seeds.json").unlink(missing_ok=True)
    docs.main(["--root", str(copy)])
    assert "Spread over seeds: not measured yet" in (copy / "README.md").read_text()

    seeds = {"runs": [{"seed": 1, "best_val_accuracy": 0.9, "test_accuracy": 0.91},
                      {"seed": 2, "best_val_accuracy": 0.89, "test_accuracy": 0.905}],
             "best_val_accuracy": {"mean": 0.895, "std": 0.00707},
             "test_accuracy": {"mean": 0.9075, "std": 0.00354}}
    (copy / "metrics/seeds.json").write_text(json.dumps(seeds))
    assert {"README.md:seeds-summary", "docs/results.md:seeds-runs"} <= stale_names(copy)
    docs.main(["--root", str(copy)])
    readme = (copy / "README.md").read_text()
    assert "Spread over 2 seeds (1, 2)" in readme
    assert "| test accuracy | 0.9075 | 0.0035 |" in readme
    assert "| 2 | 0.89 | 0.905 |" in (copy / "docs/results.md").read_text()
    assert len(readme) <= README_LIMIT


def test_absent_result_files_give_a_note(copy: Path):
    (copy / "benchmarks/results.json").unlink()
    (copy / "models/model.params.json").unlink()
    assert docs.main(["--root", str(copy)]) == 0
    bench = (copy / "docs/benchmarks.md").read_text()
    assert "`benchmarks/results.json` is not in this checkout" in bench
    assert "| test ROC AUC |" in (copy / "README.md").read_text()


def test_marker_problems_are_errors(copy: Path, capsys):
    readme = copy / "README.md"
    original = readme.read_text()
    readme.write_text(original + "\n<!-- generated:no-such-block -->\n<!-- /generated:no-such-block -->\n")
    assert docs.main(["--check", "--root", str(copy)]) == 2
    assert "unknown generated block 'no-such-block'" in capsys.readouterr().err
    readme.write_text(original + "\n<!-- generated:val-noise -->\nno closing line\n")
    assert docs.main(["--root", str(copy)]) == 2
    assert "has no matching" in capsys.readouterr().err
    assert readme.read_text() == original + "\n<!-- generated:val-noise -->\nno closing line\n"


def test_tries_stay_out_of_the_readme_and_settings_sum_up_seeds(copy: Path):
    def run(name, seed, test):
        return {"name": name, "model": "gru", "seed": seed, "best_val_accuracy": 0.9,
                "test_accuracy": test, "train_seconds": 10.0,
                "tried": name.startswith("try-"),
                "change": "train.units=[64]" if name.startswith("try-") else ""}
    experiments = {
        "runs": [run("default", 42, 0.91), run("seed-1", 1, 0.9),
                 run("try-units-64", 42, 0.95), run("try-units-64-seed-1", 1, None)],
        "settings": [{"setting": "default", "change": "", "seeds": [1, 42],
                      "best_val_accuracy": {"mean": 0.9, "std": 0.0},
                      "test_accuracy": {"mean": 0.905, "std": 0.00707}, "train_seconds": 10.0},
                     {"setting": "units-64", "change": "train.units=[64]", "seeds": [1, 42],
                      "best_val_accuracy": {"mean": 0.9, "std": 0.0}, "test_accuracy": None,
                      "train_seconds": 10.0}]}
    (copy / "metrics/experiments.json").write_text(json.dumps(experiments))
    docs.main(["--root", str(copy)])
    readme, results = (copy / "README.md").read_text(), (copy / "docs/results.md").read_text()
    assert "| seed-1 |" in readme and "try-units-64" not in readme
    assert "| try-units-64-seed-1 | `gru` with `train.units=[64]` | 1 | 0.9 | not recorded |" in results
    assert "| default (`params.yaml`) | 1, 42 | 0.9 (0) | 0.905 (0.0071) | 10 |" in results
    assert "| units-64 (`train.units=[64]`) | 1, 42 | 0.9 (0) | not recorded | 10 |" in results


def test_a_model_fitted_on_validation_reports_no_validation_score(copy: Path):
    """After the final fit (train.fit_on_validation) the docs say validation was learned,
    and the noise floor comes from the default's held-out runs."""
    metrics = json.loads((copy / "metrics/train/metrics.json").read_text())
    for key in ("best_val_accuracy", "best_val_loss", "validation"):
        metrics.pop(key, None)
    (copy / "metrics/train/metrics.json").write_text(json.dumps(metrics))
    card = json.loads((copy / "models/model.params.json").read_text())
    card["train"]["fit_on_validation"] = True
    for key in ("best_val_accuracy", "best_val_loss", "val_reviews", "teacher_val_accuracy"):
        card["fit"].pop(key, None)
    (copy / "models/model.params.json").write_text(json.dumps(card))
    (copy / "metrics/seeds.json").write_text(json.dumps({
        "runs": [{"seed": 1, "best_val_accuracy": None, "test_accuracy": 0.92},
                 {"seed": 2, "best_val_accuracy": None, "test_accuracy": 0.921}],
        "best_val_accuracy": None, "test_accuracy": {"mean": 0.9205, "std": 0.00071}}))
    experiments = json.loads((copy / "metrics/experiments.json").read_text())
    experiments["settings"] = [s for s in experiments["settings"] if s["setting"] != "held-out"]
    experiments["settings"].append({
        "setting": "held-out", "change": "train.fit_on_validation=false", "seeds": [1, 2],
        "best_val_accuracy": {"mean": 0.91, "std": 0.001}, "test_accuracy": None,
        "train_seconds": 10.0})
    (copy / "metrics/experiments.json").write_text(json.dumps(experiments))
    assert docs.main(["--root", str(copy)]) == 0
    readme = (copy / "README.md").read_text()
    assert "| validation accuracy | learned, not scored (`train.fit_on_validation`) |" in readme
    assert "teacher's validation accuracy" not in readme
    words = " ".join(readme.split())  # prose is wrapped
    assert "at accuracy 0.91 (the mean of the default's held-out runs, `held-out`)" in words
    assert "validation is learned by the final fit" in words
    assert "| test accuracy | 0.9205 | 0.0007 |" in readme
    assert "labelled training reviews, validation's included (`train.fit_on_validation`)" in words
    assert "| 2 | - | 0.921 |" in (copy / "docs/reproducibility.md").read_text()
    assert len(readme) <= README_LIMIT
