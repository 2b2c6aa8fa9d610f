# The README's two commands are `make run` and `make test`; both set everything up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam

.PHONY: setup chromium run dev test test-fast check check-build soak lint typecheck clean build-WorkflowFunction build-SlackFunction build-NotifierFunction

setup: $(BIN)/signoff node_modules/.installed $(SAM_VENV)/bin/sam chromium

# The browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download does not work offline). Installed with apt-get when missing: as root, or with
# sudo. Without apt-get the browser tests skip and say why (on CI they fail instead).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing Chromium for the browser tests (apt-get install chromium)"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "no apt-get: Chromium not installed, the browser tests will be skipped" >&2; \
	fi

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

## test: the whole suite, offline, on TEST_WORKERS processes (pytest-xdist; each test file
## stays on one worker, so a file's shared stack is started once). TEST_WORKERS=0 runs it
## in this process, one test at a time.
TEST_WORKERS ?= 2
test: setup
	$(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) --durations=20

## test-fast: the tiers that need no Java and no subprocess (unit, functional, the contract
## on the in-memory store), in under a minute; `make test` runs everything
test-fast: $(BIN)/signoff
	$(BIN)/python -m pytest tests/unit tests/functional tests/contract -m "not dynamodb" -q

check: lint typecheck test

## check-build: build one function as `sam build` does and check what Lambda would get
## (size, no laptop stack, .pyc for Python 3.13 when one is found). Downloads wheels from
## PyPI, so it is not part of `make test`. LAMBDA_PYTHON=/path/to/python3.13 picks the Python.
check-build: setup
	SIGNOFF_CHECK_BUILD=1 $(BIN)/python -m pytest tests/integration/test_build_artifact.py -q -rs -p no:cacheprovider

## soak: the crash tests, many rounds, with counts: SIGKILL at every named point
## (SIGNOFF_CRASH_POINTS, default all: `make test` leaves out those inside the notifier;
## SIGNOFF_CRASH_ROUNDS, default 10) and from outside at random instants
## (SIGNOFF_KILL_ROUNDS, default 20; SIGNOFF_KILL_SEED replays a run)
SIGNOFF_CRASH_POINTS ?= all
SIGNOFF_CRASH_ROUNDS ?= 10
SIGNOFF_KILL_ROUNDS ?= 20
soak: setup
	SIGNOFF_CRASH_POINTS=$(SIGNOFF_CRASH_POINTS) SIGNOFF_CRASH_ROUNDS=$(SIGNOFF_CRASH_ROUNDS) \
		SIGNOFF_KILL_ROUNDS=$(SIGNOFF_KILL_ROUNDS) \
		$(BIN)/python -m pytest tests/e2e/test_crash.py tests/e2e/test_kill9.py -s -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy signoff workflow_fn slack_handler notifier tests benchmarks

clean:
	rm -rf $(VENV) $(SAM_VENV) node_modules .signoff .pytest_cache

# ---------------------------------------------------------------- sam build
# `sam build` runs these targets (template.yaml: `Metadata: BuildMethod: makefile` on each
# function) with ARTIFACTS_DIR set to that function's build directory, in a copy of the
# project root (or in the root itself with `sam build --build-in-source`; they write only
# to ARTIFACTS_DIR). They put only what Lambda runs there: the code packages (without
# signoff/local, the laptop stack, which imports flask and moto) and requirements.txt
# installed for Lambda's platform. SAM's default python_pip build would copy the whole
# root instead, .venv-sam and node_modules included: over Lambda's 250 MB limit.
# All three functions get the same artifact.
#
# pip installs for Lambda (python3.13 on x86_64: keep in step with Runtime and
# Architectures under Globals in template.yaml), not for the building machine; wheels only.
LAMBDA_PIP_TARGET := --platform manylinux2014_x86_64 --implementation cp --python-version 3.13 \
	--only-binary=:all:
# A working Python 3.13 (a pyenv shim that is not active prints an error and is skipped).
# Override with `LAMBDA_PYTHON=/path/to/python3.13 sam build`.
LAMBDA_PYTHON ?= $(shell python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null)

# Lambda's code directory is read-only, so Python cannot write the .pyc files it compiles
# on import, and every cold start compiles everything again (importing the handlers and
# their dependencies took 0.8 s instead of 0.3 s with .pyc, measured). So when a Python
# 3.13 is at hand (.pyc files are tied to the minor version) the artifact is byte-compiled,
# with --invalidation-mode unchecked-hash: the deployment zip keeps file times only to
# 2 seconds, and a timestamp-checked .pyc whose source time then differs would be ignored.
# Without Python 3.13 the build still works (pip runs on $(PY)), just without .pyc files.
build-WorkflowFunction build-SlackFunction build-NotifierFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "$@: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R signoff workflow_fn slack_handler notifier "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)/signoff/local"
	find "$(ARTIFACTS_DIR)" -depth -type d -name __pycache__ -exec rm -rf {} +
	$(or $(LAMBDA_PYTHON),$(PY)) -m pip install --quiet --disable-pip-version-check --no-compile \
		$(LAMBDA_PIP_TARGET) --target "$(ARTIFACTS_DIR)" -r requirements.txt
	@if [ -n "$(LAMBDA_PYTHON)" ]; then \
		echo "$(LAMBDA_PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash $(ARTIFACTS_DIR)"; \
		"$(LAMBDA_PYTHON)" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)"; \
	else \
		echo "$@: no working python3.13 found: skipping compileall, Lambda will compile on import" >&2; \
	fi
