"""tools/experiments.py: which runs make the seed spread, and how the rows are ordered."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "experiments_tool", ROOT / "tools" / "experiments.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(name, val, test, model="gru", seed=42):
    return {
        "name": name,
        "model": model,
        "seed": seed,
        "val_accuracy": val,
        "test_accuracy": test,
        "train_seconds": 1.0,
        "change": "",
    }


def test_tried_directions_stay_out_of_the_seed_spread_and_sort_after_scored_runs():
    tool = load_tool()
    runs = [
        row("default", 0.90, 0.907),
        row("seed-1", 0.904, 0.908, seed=1),
        row("try-self-training", 0.95, None),
        row("try-units-64", 0.91, None),
        row("nb-logreg", 0.911, 0.915, model="nb_logreg"),
    ]
    summary, rows = tool.tables(runs, "gru")
    assert [r["seed"] for r in summary["runs"]] == [1, 42]
    assert summary["val_accuracy"]["mean"] == 0.902
    assert [r["name"] for r in rows] == [
        "nb-logreg",
        "seed-1",
        "default",
        "try-self-training",
        "try-units-64",
    ]
    assert set(tool.TRIES) >= {"max-len-800", "units-64"}
    assert tool.FORMER_DEFAULTS <= set(tool.TRIES) | set(tool.RETIRED) | set(tool.CODE_TRIES)
    assert not set(tool.TRIES) & set(tool.RETIRED)
    assert not set(tool.CODE_TRIES) & (set(tool.TRIES) | set(tool.RETIRED))


def test_a_name_run_again_keeps_only_its_latest_run(tmp_path):
    """Experiments live under refs/exps/<baseline>/<name>: a seed rerun from a later commit
    must replace the earlier run, whatever order the baseline hashes list in."""
    tool = load_tool()

    def git(*args, date="2026-01-01T00:00:00"):
        env = {
            **os.environ,
            "GIT_COMMITTER_DATE": date,
            "GIT_AUTHOR_DATE": date,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        }
        return subprocess.run(
            ["git", *args], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "old", date="2026-01-01T00:00:00")
    old = git("rev-parse", "HEAD")
    git("commit", "-q", "--allow-empty", "-m", "new", date="2026-02-01T00:00:00")
    new = git("rev-parse", "HEAD")
    git("update-ref", "refs/exps/ff/old-baseline/seed-1", old)  # lists after the newer one
    git("update-ref", "refs/exps/00/new-baseline/seed-1", new)
    git("update-ref", "refs/exps/ff/old-baseline/try-units-64", old)
    assert tool.experiment_revs(tmp_path) == {"seed-1": new, "try-units-64": old}


def test_a_try_name_may_pick_a_seed_and_unknown_names_are_refused():
    tool = load_tool()
    # every try runs held out, so that validation scores it; `held-out` says so only once
    base = tool.TRIES["adversarial-0.3"] + ["train.fit_on_validation=false"]
    assert tool.try_settings("adversarial-0.3") == base
    assert tool.try_settings("adversarial-0.3-seed-7") == base + ["seed=7"]
    assert tool.try_settings("held-out-seed-1") == ["train.fit_on_validation=false", "seed=1"]
    assert tool.split_try("try-adversarial-0.3-seed-7") == ("adversarial-0.3", "7")
    assert tool.split_try("try-adversarial-0.3") == ("adversarial-0.3", None)
    for bad in ("no-such-try", "no-such-try-seed-1", "adversarial-0.3-seed-x", "lm-1-seed-2"):
        try:
            tool.try_settings(bad)
        except ValueError as err:
            assert bad in str(err)
        else:
            raise AssertionError(f"{bad!r} was accepted")
    for retired, commit in (("lm-1", "4af97b105ba1"), ("cosine-seed-1", "cd731611d157")):
        with pytest.raises(ValueError, match=f"deleted .* run it from commit {commit}"):
            tool.try_settings(retired)
    with pytest.raises(ValueError, match="of code, not of a setting"):
        tool.try_settings("apostrophes-0-seed-1")
    assert tool.change_of("apostrophes-0") == tool.CODE_TRIES["apostrophes-0"]


def test_settings_sum_up_their_seeds_and_leave_unscored_test_out():
    tool = load_tool()
    runs = [
        row("default", 0.90, 0.907),
        row("seed-1", 0.91, 0.909, seed=1),
        row("try-units-64", 0.92, None),
        row("try-units-64-seed-1", 0.93, None, seed=1),
        row("try-self-training", 0.95, None),
        row("nb-logreg", 0.911, 0.915, model="nb_logreg"),
    ]
    settings = {s["setting"]: s for s in tool.settings_summary(runs)}
    assert set(settings) == {"default", "units-64"}  # one-seed settings are not summed up
    assert settings["default"]["seeds"] == [1, 42]
    assert settings["default"]["val_accuracy"] == {"mean": 0.905, "std": 0.00707}
    assert settings["default"]["test_accuracy"]["mean"] == 0.908
    assert settings["units-64"]["test_accuracy"] is None
    assert [s["setting"] for s in tool.settings_summary(runs)] == ["units-64", "default"]


def test_a_setting_with_a_run_of_unknown_training_time_has_no_mean_time():
    tool = load_tool()
    runs = [
        row("default", None, 0.92),
        {**row("seed-1", None, 0.921, seed=1), "train_seconds": None},  # run by dvc exp --temp
        row("try-held-out", 0.913, None),
        {**row("try-held-out-seed-1", 0.914, None, seed=1), "train_seconds": 3.0},
    ]
    settings = {s["setting"]: s for s in tool.settings_summary(runs)}
    assert settings["default"]["train_seconds"] is None
    assert settings["default"]["test_accuracy"] == {"mean": 0.9205, "std": 0.00071}
    assert settings["held-out"]["train_seconds"] == 2.0


def test_a_default_fitted_on_validation_has_no_validation_spread_and_sorts_last():
    tool = load_tool()
    runs = [
        row("default", None, 0.92),
        row("seed-1", None, 0.921, seed=1),
        row("try-held-out", 0.913, 0.919),
        row("try-held-out-seed-1", 0.914, 0.92, seed=1),
    ]
    settings = tool.settings_summary(runs)
    assert [s["setting"] for s in settings] == ["held-out", "default"]
    assert settings[1]["val_accuracy"] is None
    assert settings[1]["test_accuracy"] == {"mean": 0.9205, "std": 0.00071}
    seeds, rows = tool.tables(runs, "gru")
    assert seeds["val_accuracy"] is None and seeds["test_accuracy"]["mean"] == 0.9205
    assert [r["name"] for r in rows][0] == "seed-1"


def test_only_former_defaults_among_tries_record_test_accuracy(tmp_path, monkeypatch):
    tool = load_tool()
    files = {
        "params.yaml": "seed: 1\ntrain: {model: gru}\n",
        "models/model.params.json": '{"fit": {"val_accuracy": 0.9, "train_seconds": 5}}',
        "metrics/eval.json": '{"accuracy": 0.91}',
    }
    monkeypatch.setattr(tool, "read", lambda rev, path: files[path])
    former = sorted(tool.FORMER_DEFAULTS)[0]
    assert tool.run_record(f"try-{former}-seed-1", "rev")["test_accuracy"] == 0.91
    assert tool.run_record("try-units-64", "rev")["test_accuracy"] is None
    assert tool.run_record("seed-1", "rev")["test_accuracy"] == 0.91
    assert tool.run_record("try-units-64", "rev")["change"] == "train.units=[64]"
    assert (
        tool.run_record("try-units-64", "rev")["tried"]
        and not tool.run_record("seed-1", "rev")["tried"]
    )


def test_rows_of_experiments_missing_from_this_clone_are_kept(tmp_path):
    tool = load_tool()
    committed = tmp_path / "experiments.json"
    assert tool.not_in_this_clone(committed, {"default"}) == []
    committed.write_text(
        json.dumps({"runs": [{"name": "default"}, {"name": "seed-1"}, {"name": "try-units-64"}]})
    )
    assert tool.not_in_this_clone(committed, {"default", "seed-1"}) == [{"name": "try-units-64"}]


def test_a_run_without_a_ref_is_renamed_in_the_committed_file(tmp_path):
    tool = load_tool()
    committed = tmp_path / "experiments.json"
    committed.write_text(
        json.dumps(
            {
                "runs": [
                    {"name": "seed-1", "tried": False, "change": "", "val_accuracy": 0.9},
                    {"name": "seed-2", "tried": False, "change": "", "val_accuracy": 0.8},
                ]
            }
        )
    )
    tool.rename_run("seed-1", "try-units-64-seed-1", {}, committed)
    runs = json.loads(committed.read_text())["runs"]
    assert runs[0] == {
        "name": "try-units-64-seed-1",
        "tried": True,
        "change": "train.units=[64]",
        "val_accuracy": 0.9,
    }
    assert runs[1]["name"] == "seed-2"
    with pytest.raises(ValueError, match="no run named 'seed-9'"):
        tool.rename_run("seed-9", "try-units-64-seed-9", {}, committed)
