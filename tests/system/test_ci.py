"""CI: the workflow files lint and call existing make targets; the pull-request report
(tools/ci_report.py) from a temporary repository with two commits; the slice run
(tools/ci_slice.py) on a tiny archive. Nothing here reads this repository's history."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from builders import REPO, TINY_PARAMS, build_archive, run

# its module fixture is expensive: one worker runs the whole module (make test uses xdist)
pytestmark = pytest.mark.xdist_group("ci_report")

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
GITLAB = REPO / ".gitlab-ci.yml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# what a CI step may run besides make targets: installing CML and posting with it,
# and fetching the merge request's target branch on GitLab
OTHER_COMMANDS = (
    "cml comment update report/report.md",
    "npm install --global @dvcorg/cml@",
    "git fetch origin ",
)


def makefile_targets() -> set[str]:
    """Every target the Makefile defines."""
    return set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.MULTILINE))


def github_steps() -> list[dict]:
    """The steps of the workflow's single job."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert len(jobs) == 1
    return next(iter(jobs.values()))["steps"]


def gitlab_scripts() -> list[str]:
    """Every script line of every GitLab job."""
    config = yaml.safe_load(GITLAB.read_text())
    return [
        line
        for job in config.values()
        if isinstance(job, dict) and "script" in job
        for line in job["script"]
    ]


def test_github_workflow_passes_actionlint():
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which(
        "actionlint"
    )
    if actionlint is None:
        pytest.skip("actionlint not installed: pip install -c requirements.lock -e '.[dev]'")
    result = subprocess.run(
        [actionlint, "-no-color", str(WORKFLOW)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(lambda: [s["run"] for s in github_steps() if "run" in s], id="github"),
        pytest.param(gitlab_scripts, id="gitlab"),
    ],
)
def test_ci_steps_are_make_targets_that_exist(lines):
    targets = makefile_targets()
    for line in lines():
        if line.startswith("make "):
            assert line.split()[1] in targets, line
        else:
            assert line.startswith(OTHER_COMMANDS), f"not a make target: {line}"


def test_github_workflow_runs_tests_slice_and_report():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML 1.1 reads `on` as True
    steps = github_steps()
    uses = {s["uses"].split("@")[0]: s.get("with", {}) for s in steps if "uses" in s}
    assert uses["actions/checkout"]["fetch-depth"] == 0
    assert uses["actions/setup-python"]["python-version"] == "${{ matrix.python }}"
    job = next(iter(workflow["jobs"].values()))
    assert job["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    assert uses["actions/setup-python"]["cache"] == "pip"
    assert uses["actions/cache"]["path"] == ".dvc/cache"
    assert "hashFiles('dvc.lock')" in uses["actions/cache"]["key"]
    runs = [s["run"] for s in steps if "run" in s]
    assert runs[:3] == ["make lint", "make test", "make ci-slice"]
    assert runs[-1] == "cml comment update report/report.md"
    for step in steps:
        if "run" in step and ("report" in step["run"] or "cml" in step["run"]):
            assert step["if"].startswith("github.event_name == 'pull_request'"), step


def test_gitlab_ci_parses_and_mirrors_the_workflow():
    config = yaml.safe_load(GITLAB.read_text())
    assert config["variables"]["GIT_DEPTH"] == "0"
    caches = config["default"]["cache"]
    assert any(c["paths"] == [".dvc/cache"] and c["key"]["files"] == ["dvc.lock"] for c in caches)
    assert config["test"]["script"] == ["make lint", "make test", "make ci-slice"]
    assert "cml comment update report/report.md" in config["comment"]["script"]


# --- the pull-request report ------------------------------------------------------------


def copy_worktree(target: Path) -> Path:
    """This checkout's files as they would be committed (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def commit_all(repo: Path, message: str) -> None:
    """Stage everything and commit."""
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)


def edit_yaml(path: Path, section: str, key: str, value: object) -> None:
    """Set one key of a YAML or JSON mapping file."""
    data = yaml.safe_load(path.read_text())
    (data[section] if section else data)[key] = value
    text = (
        json.dumps(data, indent=2)
        if path.suffix == ".json"
        else yaml.safe_dump(data, sort_keys=False)
    )
    path.write_text(text)


@pytest.fixture(scope="module")
def pull_request(tmp_path_factory) -> Path:
    """A clone on branch `feature`, one commit ahead of origin/main: train.units, the test
    accuracy and the plots changed (a precision-recall PNG added, the learning curves gone)."""
    root = tmp_path_factory.mktemp("ci_report")
    origin = copy_worktree(root / "origin")
    (origin / "metrics" / "eval" / "precision_recall.png").unlink(missing_ok=True)  # base lacks it
    run(["git", "init", "-q", "-b", "main"], origin)
    commit_all(origin, "main")
    clone = root / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], root)
    run(["git", "checkout", "-q", "-b", "feature"], clone)
    edit_yaml(clone / "params.yaml", "train", "units", [48])
    edit_yaml(clone / "metrics" / "eval.json", "", "accuracy", 0.95)
    plots = clone / "metrics" / "eval"
    shutil.copy(plots / "roc.png", plots / "precision_recall.png")
    (plots / "learning_curves.png").unlink()
    commit_all(clone, "wider GRU")
    return clone


def ci_report(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """tools/ci_report.py in `repo` with this interpreter."""
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "ci_report.py"), *args],
        cwd=repo,
        capture_output=True,
        text=True,
    )


def test_report_tables_and_plots_of_both_revisions(pull_request, tmp_path):
    out = tmp_path / "report"
    result = ci_report(pull_request, "--base", "origin/main", "--out", str(out))
    assert result.returncode == 0, result.stderr
    markdown = (out / "report.md").read_text()
    params = markdown.split("## Params")[1].split("## Metrics")[0]
    assert "| train.units" in params and "[32]" in params and "[48]" in params
    assert "| origin/main" in params and "| HEAD" in params
    metrics = markdown.split("## Metrics")[1].split("## Curves")[0]
    # 0.95 against the committed accuracy: far outside the noise of 25,000 test reviews
    row = re.search(
        r"metrics/eval\.json \| accuracy \|[^\n]*\| 0\.95 \|[^\n]*\| \*\*no\*\* \|", metrics
    )
    assert row, metrics
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert {
        "base/confusion_matrix.png",
        "head/confusion_matrix.png",
        "overlay/roc.png",
        "overlay/precision_recall.png",
    } <= set(images)
    for image in images:
        assert (out / image).read_bytes().startswith(PNG_SIGNATURE), image


def test_noise_band_of_a_rate():
    sys.path.insert(0, str(REPO / "tools"))
    import ci_report

    assert ci_report.noise(0.9, 10_000) == pytest.approx(2 * (0.9 * 0.1 / 10_000) ** 0.5)
    assert ci_report.noise(0.9, 10_000, seed_std=0.01) == pytest.approx(0.02)
    assert ci_report.noise(0.9, None) is None and ci_report.noise(1.5, 100) is None


def test_report_with_no_changes_says_so(pull_request, tmp_path):
    out = tmp_path / "report"
    (out / "base").mkdir(parents=True)
    (out / "base" / "stale.png").write_bytes(PNG_SIGNATURE)  # from an earlier report
    result = ci_report(pull_request, "--base", "HEAD", "--out", str(out))
    assert result.returncode == 0, result.stderr
    markdown = (out / "report.md").read_text()
    assert "_No params changed._" in markdown and "_No metrics changed._" in markdown
    assert not (out / "base" / "stale.png").exists()


def test_report_names_a_missing_base_revision(pull_request, tmp_path):
    result = ci_report(pull_request, "--base", "origin/no-such-branch", "--out", str(tmp_path))
    assert result.returncode != 0
    assert "no commit 'origin/no-such-branch'" in result.stderr and "fetch-depth 0" in result.stderr


def test_report_names_an_out_that_is_a_file_and_a_missing_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    run(["git", "init", "-q"], repo)
    run(["git", "commit", "-q", "--allow-empty", "-m", "one"], repo)
    (tmp_path / "report.md").write_text("a file where the folder goes\n")
    result = ci_report(repo, "--base", "HEAD", "--out", str(tmp_path / "report.md"))
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"error: ci_report: --out {tmp_path / 'report.md'}: a file, not a folder"
    ]
    result = ci_report(tmp_path, "--base", "HEAD", "--repo", str(tmp_path / "nowhere"))
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"error: ci_report: --repo {tmp_path / 'nowhere'}: no such folder"
    ]


# --- the slice run ----------------------------------------------------------------------


def tiny_sets() -> list[str]:
    """conftest's tiny params as --set KEY=VALUE arguments, values in JSON (a subset of YAML)."""
    sets = [f"seed={TINY_PARAMS['seed']}", "ingest.sample_per_class=30"]
    for section, values in TINY_PARAMS.items():
        if isinstance(values, dict):
            sets += [f"{section}.{key}={json.dumps(value)}" for key, value in values.items()]
    return [arg for value in sets for arg in ("--set", value)]


@pytest.mark.parametrize(
    "args, error",
    [
        (["--archive", "typo.tar.gz"], "--archive typo.tar.gz: no such file"),
        (
            ["--set", "train.units=[16"],
            "--set train.units: '[16' is not YAML: expected ',' or ']', but got '<stream end>'",
        ),
    ],
)
def test_ci_slice_names_a_wrong_argument_before_it_clones(tmp_path, args, error):
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "ci_slice.py"), "--repo", str(tmp_path), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert result.stderr.splitlines() == [f"error: ci_slice: {error}"]
    assert "git" not in result.stdout  # nothing was run


def test_ci_slice_names_a_set_key_under_a_value(tmp_path):
    sys.path.insert(0, str(REPO / "tools"))
    import ci_slice

    params = tmp_path / "params.yaml"
    params.write_text("seed: 42\n")
    with pytest.raises(SystemExit) as exit:
        ci_slice.write_params(params, {"seed.x": 1})
    assert exit.value.code == (
        "error: ci_slice: --set seed.x: seed is 42 in params.yaml, not a section"
    )


@pytest.mark.slow
def test_ci_slice_runs_every_stage_in_a_scratch_clone_then_nothing(tmp_path):
    repo = copy_worktree(tmp_path / "repo")
    run(["git", "init", "-q"], repo)
    commit_all(repo, "pipeline")
    archive = build_archive(tmp_path / "archive.tar.gz")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "ci_slice.py"),
            "--repo",
            str(repo),
            "--archive",
            str(archive),
            *tiny_sets(),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for stage in ("ingest", "preprocess", "train", "evaluate", "export"):
        assert f"Running stage '{stage}'" in output, stage
    second = output.split("-m dvc repro\n")[-1]
    assert "Running stage" not in second and "Data and pipelines are up to date" in second
    assert "pipeline ran on the slice and is up to date" in output
    assert "| metrics/eval.json" in output
    # the repository itself: no outputs, dvc.lock and params.yaml as committed
    assert run(["git", "status", "--porcelain"], repo).stdout == ""
    assert (
        not (repo / "models" / "model.keras").exists()
        and not (repo / "data" / "processed").exists()
    )
