# Self-documenting: `make help` lists the targets.
# Python 3.11-3.13: `python3` on PATH when it is one of those, else python3.13, python3.12 or
# python3.11, the first found; `make PYTHON=/path/to/python3.12 ...` picks one. The venv keeps
# the interpreter it was made with (`make clean-venv` to change it).
PYTHON_SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	"$$p" -c '$(PYTHON_SUPPORTED)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
PYTHON_ERROR = $(if $(filter file,$(origin PYTHON)),no Python 3.11-3.13 found (python3 is absent \
	or another version; no python3.13$(comma) python3.12 or python3.11 runs),PYTHON=$(PYTHON) is \
	not Python 3.11-3.13): install one$(comma) or run make PYTHON=/path/to/python3.1x
comma := ,
VENV ?= .venv
BIN := $(VENV)/bin
ARCHIVE := data/raw/aclImdb_v1.tar.gz
# reproduce and ci-slice pass --archive only for a file that is there: the tools refuse a named
# archive that is missing, and without one look for it themselves (tools/*.py), else download it.
SHARED_ARCHIVE ?= ../shared/data/aclImdb_v1.tar.gz
# Stage commands in dvc.yaml say `python`: make it the project's environment.
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export DVC_NO_ANALYTICS ?= 1

.DEFAULT_GOAL := help
.PHONY: help run test test-fast lint install app predict bench bench-quick reproduce experiments metrics compare clean-venv

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(if $(shell "$(PYTHON)" -c '$(PYTHON_SUPPORTED)' >/dev/null 2>&1 && echo ok),,$(error $(PYTHON_ERROR)))
	"$(PYTHON)" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $@

install: $(VENV)/.installed ## Create .venv (if missing) and install the project with dev extras

$(ARCHIVE):
	@mkdir -p $(dir $@)
	@if [ -f "$(SHARED_ARCHIVE)" ]; then cp "$(SHARED_ARCHIVE)" $@ && echo "copied $(SHARED_ARCHIVE) -> $@"; \
	else echo "$@ absent: the ingest stage will download the official archive"; fi

run: $(VENV)/.installed $(ARCHIVE) ## Set up (if needed) and reproduce the whole pipeline: dvc repro
	$(BIN)/dvc repro

# pytest-xdist: one worker per core, at most TEST_WORKERS (each holds a TensorFlow); tests
# that share an expensive module fixture carry an xdist_group mark and stay on one worker.
TEST_WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -n auto --maxprocesses $(TEST_WORKERS) --dist loadgroup

test: $(VENV)/.installed ## Set up (if needed) and run the whole test suite (what CI runs)
	$(PYTEST)

test-fast: $(VENV)/.installed ## The quick tier for the edit loop: the tests not marked slow (tests/system/ is slow)
	$(PYTEST) -m "not slow"

lint: $(VENV)/.installed ## Lint, format check and types: ruff and mypy (CI runs it)
	$(BIN)/ruff check src tests tools benchmarks
	$(BIN)/ruff format --check src tests tools benchmarks
	$(BIN)/mypy

app: $(VENV)/.installed ## Start the web app on http://127.0.0.1:8501
	$(BIN)/streamlit run src/imdb_sentiment/inference/app.py --server.address 127.0.0.1

# REVIEW, INPUT and OUTPUT are user text: make would expand a `$(...)` in them wherever they
# are used and when it puts them in a recipe's environment, so they are redefined as their
# literal text ($(value)), which make never expands again; the recipe reads them only from the
# environment ("$$REVIEW"), never through the shell's parsing.
override REVIEW := $(value REVIEW)
override INPUT := $(value INPUT)
override OUTPUT := $(value OUTPUT)
export REVIEW INPUT OUTPUT
predict: $(VENV)/.installed ## Classify: make predict REVIEW="..."  (or INPUT=file [OUTPUT=file])
	$(if $(value INPUT)$(value REVIEW),,$(error give REVIEW="a review" or INPUT=file [OUTPUT=file]))
	if [ -n "$$INPUT" ]; then set -- --input "$$INPUT"; else set -- -- "$$REVIEW"; fi; \
	if [ -n "$$OUTPUT" ]; then set -- --output "$$OUTPUT" "$$@"; fi; \
	exec "$(BIN)/imdb-sentiment" predict "$$@"

bench: $(VENV)/.installed ## Benchmarks (needs `make run` first): table on stdout, JSON in benchmarks/results.json
	$(BIN)/python benchmarks/bench.py --json benchmarks/results.json

bench-quick: $(VENV)/.installed ## The headline benchmark numbers with their spread, in minutes (needs `make run` first)
	$(BIN)/python benchmarks/bench.py --quick --json benchmarks/results.json

reproduce: $(VENV)/.installed ## Rebuild everything in a scratch clone; list what differs from the committed results
	$(BIN)/python tools/reproduce.py $(if $(wildcard $(ARCHIVE)),--archive "$(ARCHIVE)",$(if $(wildcard $(SHARED_ARCHIVE)),--archive "$(SHARED_ARCHIVE)"))

SEEDS ?= 1 2
NGRAM ?= 1
experiments: $(VENV)/.installed ## Other seeds and the n-gram models as experiments (SEEDS="1 2" NGRAM=1) -> metrics/
	$(BIN)/python tools/experiments.py --seeds $(SEEDS) $(if $(filter 1,$(NGRAM)),--ngram)

# The columns a person compares first; each table fits a 200-column terminal.
HEADLINE := accuracy|ece|behaviour_min|contrast_edited|short_texts
metrics: $(VENV)/.installed ## The committed model's headline metrics (all of them: dvc metrics show)
	$(BIN)/dvc metrics show --md metrics/eval.json metrics/robustness.json

compare: $(VENV)/.installed ## Experiments side by side: headline metrics and the params that differ
	$(BIN)/dvc exp show --md --only-changed --drop 'Created|State|Executor|ingest\..*|fingerprints.*|data.*|checks.*|metrics/behaviour.json:.*' --keep 'Experiment|$(HEADLINE)|seed'

clean-venv: ## Delete the virtual environment
	rm -rf $(VENV)

# CI (.github/workflows/ci.yml, .gitlab-ci.yml; docs/ci.md)
BASE ?= origin/main
REPORT_DIR ?= report
.PHONY: ci-slice report

ci-slice: $(VENV)/.installed ## The pipeline on a seeded slice, in a scratch clone; then nothing stale
	$(BIN)/python tools/ci_slice.py $(if $(wildcard $(SHARED_ARCHIVE)),--archive "$(SHARED_ARCHIVE)")

report: $(VENV)/.installed ## PR report: make report BASE=origin/main -> report/report.md
	$(BIN)/python tools/ci_report.py --base "$(BASE)" --out "$(REPORT_DIR)"

.PHONY: docs timings
docs: ## Rewrite the generated blocks of README.md, docs/ and models/ from the committed results
	python3 tools/docs.py

timings: ## Publish the run log (times, memory, disk of make run and make test) -> benchmarks/timings.json
	python3 tools/timings.py
