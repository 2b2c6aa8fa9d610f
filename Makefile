# The README's two commands are `make run` and `make test`; both set everything up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam

.PHONY: setup run dev test check lint typecheck clean

setup: $(BIN)/signoff node_modules/.installed $(SAM_VENV)/bin/sam

$(BIN)/signoff: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[local,dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# SAM CLI lives in its own venv: its pins must not move the project's.
$(SAM_VENV)/bin/sam:
	$(PY) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet "aws-sam-cli==1.170.0"

## run: start the local stack and walk one approval from kickoff to click to outcome
run: setup
	$(BIN)/python -m signoff.local.demo

## dev: the embedded local stack in the foreground (Ctrl-C stops it)
dev: setup
	$(BIN)/signoff dev

## test: the whole suite, offline
test: setup
	$(BIN)/python -m pytest

check: lint typecheck test

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy signoff workflow_fn slack_handler notifier

clean:
	rm -rf $(VENV) $(SAM_VENV) node_modules .signoff .pytest_cache
