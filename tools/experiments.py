"""The experiments the docs compare against: other seeds of the default, and the n-gram models.

    python tools/experiments.py --seeds 1 2   # dvc exp run --temp -n seed-N -S seed=N
    python tools/experiments.py --ngram       # dvc exp run --temp -n nb-logreg / tfidf-logreg
    python tools/experiments.py --try NAME    # one of TRIES below: dvc exp run --temp -n try-NAME -S ...
    python tools/experiments.py --try NAME-seed-N   # ... the same with -S seed=N
    python tools/experiments.py --rename OLD NEW    # e.g. seed-1 -> try-NAME-seed-1 when the default changes
    python tools/experiments.py               # only summarise what has run

Each experiment runs in a temporary copy of the workspace; its results stay in
DVC's experiment refs (`dvc exp show`). The summary, written to committed files
so the docs are generated from them, holds the workspace's run and every
seed-N, nb-logreg, tfidf-logreg and try-NAME experiment: metrics/experiments.json
(one row each) and metrics/seeds.json (the seed runs with the mean and sample
standard deviation of test accuracy, and of validation accuracy when held out). A
try-NAME row is a direction tried against the default: it is judged on validation
accuracy, so its test accuracy is not recorded, unless the setting was once the
default (FORMER_DEFAULTS). Every try runs with train.fit_on_validation false, so that it has
a validation score; `held-out` is the default run that way, the row tries are judged
against. metrics/experiments.json also sums up each setting over its seeds.

`git clone` does not bring experiment refs, so a row whose experiment is not in
this clone is kept as the committed file has it (and named on stderr), never
dropped; `git fetch origin 'refs/exps/*:refs/exps/*'` brings the refs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SEEDS_OUT = ROOT / "metrics" / "seeds.json"
RUNS_OUT = ROOT / "metrics" / "experiments.json"
PREFIX = "seed-"
NGRAM_MODELS = ("nb_logreg", "tfidf_logreg")
TRY = "try-"
# Directions tried against the default (docs/lab/results.md): name -> `dvc exp run -S` settings
HELD_OUT = "train.fit_on_validation=false"  # every try runs so: validation must score it
TRIES = {
    "held-out": [
        HELD_OUT
    ],  # the default itself, validated: what the other tries are judged against
    "max-len-800": ["preprocess.max_len=800"],
    "units-64": ["train.units=[64]"],
    "adversarial-0": ["train.adversarial_epsilon=0.0"],
    "adversarial-0.3": ["train.adversarial_epsilon=0.3"],
    "adversarial-2.0": ["train.adversarial_epsilon=2.0"],
    "conv-2": ["train.conv_filters=64", "preprocess.vocab_size=20000"],
    "conv-2-units-64": ["train.conv_filters=64", "train.units=[64]", "preprocess.vocab_size=20000"],
    "conv-2-vocab-40000": ["train.conv_filters=64", "preprocess.vocab_size=40000"],
    "no-conv": ["train.conv_filters=0", "preprocess.vocab_size=20000"],
    "conv-width-5": ["train.conv_width=5"],
    "dim-128": ["train.embedding_dim=128", "preprocess.pretrain_dim=128"],
    "conv-max-len-800": ["preprocess.max_len=800"],
    "teacher-4-grams": ["train.teacher_ngrams=4"],
    "word-pairs-0": ["train.word_pair_buckets=0"],
    "embedding-dropout-0.5": ["train.embedding_dropout=0.5"],
    "pair-buckets-524288": ["train.word_pair_buckets=524288"],
    "lr-0.0005": ["train.learning_rate=0.0005"],
    "pair-dim-32": ["train.word_pair_dim=32"],
    "pooling-mean": ["train.pooling=mean"],
    "units-64-e4": ["train.units=[64]"],  # units-64 again, on the 4-epoch default
    "conv-128": ["train.conv_filters=128"],
    "batch-64": ["train.batch_size=64"],
    "adversarial-1.5": ["train.adversarial_epsilon=1.5"],
    "no-conv-pairs": ["train.conv_filters=0"],  # no-conv again, with pair vectors and 40,000 words
    "conv-stride-1-epochs-5": ["train.conv_stride=1", "train.epochs=5"],
    "conv-stride-2": ["train.conv_stride=2"],  # the default until 2026-11-28
    "lr-0.002": ["train.learning_rate=0.002"],
    "negation-pairs-0": ["train.negation_pairs=false"],  # the default until 2026-12-07
}
# Directions whose code was deleted (docs/lab/decisions.md, 2026-11-28): they lost, served the
# teacher, which the model may not, or let validation labels shape the model. Their rows
# stay, read from their experiments; to run one again, check out the commit it is filed
# under, the last with its code.
RETIRED_AT = {
    "4af97b105ba1": {
        "self-training": ["train.self_training_rounds=1"],
        "augment-2": ["train.augment_copies=2"],
        "ema-0.998": ["train.ema_momentum=0.998"],
        "virtual-adversarial": ["train.virtual_adversarial=true"],
        "lm-2": ["train.lm_pretrain_epochs=2"],
        "lm-1": ["train.lm_pretrain_epochs=1"],
        "ensemble-0.5": ["train.ensemble_teacher_share=0.5"],
        "ensemble-0.5-no-distill": [
            "train.ensemble_teacher_share=0.5",
            "train.distill_unlabeled=false",
        ],
        "word-triples": ["train.word_triples=true"],
    },
    "cd731611d157": {"cosine": ["train.learning_rate_schedule=cosine"]},
    "196b1e2d4470": {
        "pooling-max-mean": ["train.pooling=max_mean"],
        "teacher-temperature-1.5": ["train.teacher_temperature=1.5"],
        "teacher-temperature-2.5": ["train.teacher_temperature=2.5"],
    },
    "17c8d906495e": {
        "early-stopping": ["train.epochs=8", "train.patience=2", "train.restore_best_weights=true"]
    },
    "4b72925f04a6": {"network-teacher-0.5": ["train.network_teacher_share=0.5"]},
    "837f4b63830e": {"pool-phrases": ["train.pool_phrases=true"]},
}
RETIRED = {name: sets for tries in RETIRED_AT.values() for name, sets in tries.items()}
# Tries of code rather than of a setting: `dvc exp run --temp -n try-NAME -S
# train.fit_on_validation=false` on a workspace holding the code. What each changed, for the tables
CODE_TRIES = {
    "negation-rules-2": "code: the negation rules revised (not kept; docs/lab/decisions.md, "
    "2026-12-07)",
    "apostrophes-0": "code: only ' read as an apostrophe, only ASCII letters lower-cased (the "
    "default until 2026-12-07)",
}
# Tried settings that were the default for a while, so the test set has scored them
FORMER_DEFAULTS = {
    "adversarial-0",
    "adversarial-0.3",
    "no-conv",
    "ensemble-0.5",
    "word-pairs-0",
    "early-stopping",
    "conv-stride-2",
    "held-out",
    "negation-pairs-0",
    "apostrophes-0",
}
SEED_SUFFIX = "-seed-"


def dvc(*args: str) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=ROOT, env=env, check=True)


def read(rev: str | None, path: str) -> str:
    """A file's text at a revision, or in the workspace when `rev` is None."""
    if rev is None:
        return (ROOT / path).read_text()
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def experiment_revs(root: Path = ROOT) -> dict[str, str]:
    """{name: commit} of this checkout's seed-N, n-gram and try-NAME experiments
    (refs/exps/<baseline>/<name>). A name run again from a later baseline keeps only its
    latest run."""
    listed = subprocess.run(
        [
            "git",
            "for-each-ref",
            "--sort=committerdate",
            "--format=%(refname) %(objectname)",
            "refs/exps",
        ],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    revs = {}
    for line in listed:
        ref, commit = line.split()
        name = ref.rsplit("/", 1)[-1]
        if name.startswith((PREFIX, TRY)) or name in {ngram_name(m) for m in NGRAM_MODELS}:
            revs[name] = commit
    return revs


def ngram_name(model: str) -> str:
    return model.replace("_", "-")


def split_try(name: str) -> tuple[str, str | None]:
    """A try name (`[try-]NAME` or `[try-]NAME-seed-N`) as its setting NAME and seed N (or None)."""
    base, _, seed = name.removeprefix(TRY).rpartition(SEED_SUFFIX)
    if base and seed.isdigit():
        return base, seed
    return name.removeprefix(TRY), None


def try_settings(name: str) -> list[str]:
    """The `dvc exp run -S` settings of a try name (`NAME` or `NAME-seed-N`, NAME in TRIES)."""
    setting, seed = split_try(name)
    if setting in RETIRED:
        commit = next(c for c, tries in RETIRED_AT.items() if setting in tries)
        raise ValueError(
            f"the code of try {name!r} was deleted (docs/lab/decisions.md, "
            f"2026-11-28); run it from commit {commit}"
        )
    if setting in CODE_TRIES:
        raise ValueError(
            f"try {name!r} is of code, not of a setting: run it with `dvc exp run --temp -n "
            f"{TRY}{setting} -S {HELD_OUT}` on a workspace that holds the code"
        )
    if setting not in TRIES:
        raise ValueError(
            f"unknown try {name!r}: expected one of {sorted(TRIES)}, "
            f"optionally followed by {SEED_SUFFIX}N"
        )
    held_out = [] if HELD_OUT in TRIES[setting] else [HELD_OUT]
    return TRIES[setting] + held_out + ([f"seed={seed}"] if seed else [])


def tried_setting(name: str) -> str | None:
    """The setting a try-NAME[-seed-N] run measures; None for any other run."""
    return split_try(name)[0] if name.startswith(TRY) else None


def setting_of(row: dict) -> str:
    """The setting a run measures: `default` for the default and its seed-N runs."""
    name = row["name"]
    return tried_setting(name) or (
        "default" if name == "default" or name.startswith(PREFIX) else name
    )


def change_of(setting: str | None) -> str:
    """A try setting's `-S` settings as one string; "" for the default's runs (None)."""
    if setting in CODE_TRIES:
        return CODE_TRIES[setting]
    return ", ".join(TRIES.get(setting) or RETIRED.get(setting, [])) if setting else ""


def run_record(name: str, rev: str | None) -> dict:
    """A revision's (None: the workspace's) model, seed, accuracies and training time."""
    from imdb_sentiment.core.artifacts import model_params_path
    from imdb_sentiment.core.locations import pipeline_paths

    paths = pipeline_paths(ROOT)
    params = yaml.safe_load(read(rev, "params.yaml"))
    fit = json.loads(read(rev, model_params_path(paths["model"]).as_posix()))["fit"]
    setting = tried_setting(name)
    scored = setting is None or setting in FORMER_DEFAULTS
    test = json.loads(read(rev, paths["eval"].as_posix()))["accuracy"] if scored else None
    change = change_of(setting)
    return {
        "name": name,
        "model": params["train"]["model"],
        "seed": params["seed"],
        "tried": setting is not None,
        "change": change,
        # the saved model's (none after a fit on validation): a retired ensemble-0.5 row
        # averaged network and teacher; cards before 2026-12-06 name it best_val_accuracy
        "val_accuracy": fit.get(
            "ensemble_val_accuracy", fit.get("val_accuracy", fit.get("best_val_accuracy"))
        ),
        "test_accuracy": test,
        # earlier params files held the fit's seconds; the run log (logs/) holds them now
        "train_seconds": train_seconds(fit, rev),
    }


def train_seconds(fit: dict, rev: str | None) -> float | None:
    """The training time: an earlier params file's `fit`, or the workspace's run log (rev None)."""
    if "train_seconds" in fit:
        return round(
            fit["train_seconds"] + fit.get("teacher_seconds", 0.0) + fit.get("lm_seconds", 0.0), 1
        )
    log = ROOT / "logs" / "stages" / "train.json"
    if rev is None and log.is_file():
        return json.loads(log.read_text())["seconds"]
    return None


def not_in_this_clone(committed: Path, names: set[str]) -> list[dict]:
    """The committed file's rows whose names are not among `names` (runs found here)."""
    if not committed.is_file():
        return []
    return [r for r in json.loads(committed.read_text())["runs"] if r["name"] not in names]


def rename_run(old: str, new: str, revs: dict[str, str], committed: Path) -> None:
    """Rename run `old` to `new`: its experiment ref where this clone has it, and its row in
    the committed file (which a clone without the ref keeps), re-described as `new`."""
    if old in revs:
        dvc("exp", "rename", old, new)
    results = json.loads(committed.read_text()) if committed.is_file() else {"runs": []}
    rows = [r for r in results["runs"] if r["name"] == old]
    if not rows and old not in revs:
        raise ValueError(
            f"no run named {old!r}: neither an experiment ref nor a row of {committed.name}"
        )
    if rows:
        setting = tried_setting(new)
        for row in rows:
            row.update(name=new, tried=setting is not None, change=change_of(setting))
        committed.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def spread(values: list[float | None]) -> dict | None:
    """Mean and sample standard deviation (0 for one value); None unless every value is
    known."""
    known = [value for value in values if value is not None]
    if len(known) < len(values):
        return None
    return {
        "mean": round(statistics.mean(known), 5),
        "std": round(statistics.stdev(known), 5) if len(known) > 1 else 0.0,
    }


def mean_seconds(values: list[float | None]) -> float | None:
    """The mean training time; None unless every run's is known (a `dvc exp run --temp`
    run's run log stays in its temporary copy)."""
    times = spread(values)
    return round(times["mean"], 1) if times else None


def summarise(runs: list[dict]) -> dict:
    """The seed runs of the default model, with mean and sample standard deviation."""
    runs = sorted(
        (
            {
                "seed": r["seed"],
                "val_accuracy": r["val_accuracy"],
                "test_accuracy": r["test_accuracy"],
            }
            for r in runs
        ),
        key=lambda r: r["seed"],
    )
    summary: dict = {"runs": runs}
    for key in ("val_accuracy", "test_accuracy"):
        summary[key] = spread([r[key] for r in runs])
    return summary


def settings_summary(rows: list[dict]) -> list[dict]:
    """Each setting run on more than one seed: its seeds, the spread of its validation
    accuracy and of its test accuracy where every seed's was recorded, and its mean training
    time where every seed's is; best mean validation accuracy first, then the settings without one."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(setting_of(r), []).append(r)
    out = []
    for setting, runs in groups.items():
        if len(runs) < 2:
            continue
        out.append(
            {
                "setting": setting,
                "change": runs[0]["change"],
                "seeds": sorted(r["seed"] for r in runs),
                "val_accuracy": spread([r["val_accuracy"] for r in runs]),
                "test_accuracy": spread([r["test_accuracy"] for r in runs]),
                "train_seconds": mean_seconds([r["train_seconds"] for r in runs]),
            }
        )
    return sorted(
        out,
        key=lambda s: (
            s["val_accuracy"] is None,
            -(s["val_accuracy"] or {"mean": 0})["mean"],
        ),
    )


def tables(runs: list[dict], default_model: str) -> tuple[dict, list[dict]]:
    """The seed summary (the default and its seed-N runs only) and every run, the scored
    ones by test accuracy first, then the tried directions by validation accuracy."""
    seeds = [
        r
        for r in runs
        if r["model"] == default_model and (r["name"] == "default" or r["name"].startswith(PREFIX))
    ]
    rows = sorted(
        runs,
        key=lambda r: (
            r["test_accuracy"] is None,
            -(r["test_accuracy"] or 0),
            -(r["val_accuracy"] or 0),
        ),
    )
    return summarise(seeds), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=[],
        help="seeds of the default to run as experiments first",
    )
    parser.add_argument(
        "--ngram", action="store_true", help="run the n-gram models as experiments first"
    )
    parser.add_argument(
        "--try",
        dest="tries",
        nargs="*",
        default=[],
        metavar="NAME",
        help=f"run these directions as experiments first: {', '.join(TRIES)}, "
        f"each optionally followed by {SEED_SUFFIX}N",
    )
    parser.add_argument(
        "--rename",
        nargs=2,
        action="append",
        default=[],
        metavar=("OLD", "NEW"),
        help="rename a run first, e.g. seed-1 to try-NAME-seed-1 when the "
        "default changes (its ref and its committed row)",
    )
    args = parser.parse_args(argv)
    try:
        tries = {name: try_settings(name) for name in args.tries}
    except ValueError as err:
        parser.error(str(err))
    for old, new in args.rename:
        try:
            rename_run(old, new, experiment_revs(), RUNS_OUT)
        except ValueError as err:
            parser.error(str(err))
    for seed in args.seeds:
        print(f"experiments: seed {seed}", file=sys.stderr, flush=True)
        dvc("exp", "run", "--temp", "-n", f"{PREFIX}{seed}", "-S", f"seed={seed}", "-f")
    for model in NGRAM_MODELS if args.ngram else ():
        print(f"experiments: {model}", file=sys.stderr, flush=True)
        dvc("exp", "run", "--temp", "-n", ngram_name(model), "-S", f"train.model={model}", "-f")
    for name, settings in tries.items():
        print(f"experiments: {TRY}{name}", file=sys.stderr, flush=True)
        sets = [arg for setting in settings for arg in ("-S", setting)]
        dvc("exp", "run", "--temp", "-n", f"{TRY}{name}", *sets, "-f")
    runs = [run_record("default", None)] + [
        run_record(name, rev) for name, rev in experiment_revs().items()
    ]
    kept = not_in_this_clone(RUNS_OUT, {r["name"] for r in runs})
    if kept:
        print(
            f"experiments: {len(kept)} run(s) without an experiment ref in this clone, kept "
            f"as {RUNS_OUT.name} has them: {', '.join(r['name'] for r in kept)}",
            file=sys.stderr,
        )
    runs += kept
    default = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]["model"]
    summary, rows = tables(runs, default)
    SEEDS_OUT.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    results = {"runs": rows, "settings": settings_summary(rows)}
    RUNS_OUT.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps({"seeds": summary, **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
