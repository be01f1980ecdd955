# Self-documenting: `make help` lists the targets.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
ARCHIVE := data/raw/aclImdb_v1.tar.gz
SHARED_ARCHIVE ?= ../shared/data/aclImdb_v1.tar.gz
# Stage commands in dvc.yaml say `python`: make it the project's environment.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export DVC_NO_ANALYTICS ?= 1

.DEFAULT_GOAL := help
.PHONY: help run test install app predict bench clean-venv

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
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

test: $(VENV)/.installed ## Set up (if needed) and run the test suite
	$(BIN)/python -m pytest

app: $(VENV)/.installed ## Start the web app on http://127.0.0.1:8501
	$(BIN)/streamlit run src/imdb_sentiment/app.py --server.address 127.0.0.1

predict: $(VENV)/.installed ## Classify: make predict REVIEW="..."  (or INPUT=file [OUTPUT=file])
	$(BIN)/imdb-sentiment predict $(if $(INPUT),--input $(INPUT),"$(REVIEW)") $(if $(OUTPUT),--output $(OUTPUT))

bench: $(VENV)/.installed ## Benchmarks (needs `make run` first): table on stdout, JSON in benchmarks/results.json
	$(BIN)/python benchmarks/bench.py --json benchmarks/results.json

clean-venv: ## Delete the virtual environment
	rm -rf $(VENV)

# CI (.github/workflows/ci.yml, .gitlab-ci.yml; docs/ci.md)
BASE ?= origin/main
REPORT_DIR ?= report
.PHONY: ci-slice report

ci-slice: $(VENV)/.installed ## The pipeline on a seeded slice, in a scratch clone; then nothing stale
	$(BIN)/python tools/ci_slice.py --archive "$(SHARED_ARCHIVE)"

report: $(VENV)/.installed ## PR report: make report BASE=origin/main -> report/report.md
	$(BIN)/python tools/ci_report.py --base "$(BASE)" --out "$(REPORT_DIR)"

.PHONY: docs
docs: ## Rewrite the generated blocks of README.md and docs/ from the committed results
	python3 tools/docs.py
