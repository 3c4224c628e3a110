# The README's two commands: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)

.PHONY: install demo test compile lint clean audit mutate

# Stamps make a second run skip the installs: they redo only when their inputs change.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# `npm ci` rejects this lock file because npm leaves the other platforms' optional anvil
# binaries out of it; `npm install --no-save` installs exactly the locked versions and
# leaves package-lock.json untouched.
node_modules/.installed: package.json package-lock.json
	npm install --no-save --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed redis

# the keeper fleet's tests (tests/fleet) and `bulkhead keeper fleet` run Debian's redis-server
.PHONY: redis
redis:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; } \
	  || { echo "make: the keeper fleet needs redis-server: apt-get install -y redis-server"; exit 1; }

compile: install
	ape compile

demo: install
	bulkhead demo

# Three pytest sessions, each with its own ape-managed Anvil: the contract suites share one
# session deployment, and the audit/benchmark groups are kept apart from them so that no
# module's chain snapshots can reach another group's fixtures. pytest exits 5 when it
# collected nothing; any non-zero exit fails `make test`.
test: compile chromium
	@for d in tests/*/; do case "$$d" in *__pycache__*) continue;; esac; \
	  grep -q "$${d%/}" Makefile || { echo "make test: $$d is in no pytest group"; exit 1; }; done
	$(PY) -m ruff format --check --quiet .
	$(PY) -m ruff check --quiet bulkhead tests scripts bench bots
	$(PY) -m mypy
	pytest -p no:cacheprovider -q tests/unit tests/integration
	pytest -p no:cacheprovider -q tests/audit tests/fuzz tests/bench tests/mutation
	pytest -p no:cacheprovider -q tests/cli tests/keeper tests/steward tests/simulate tests/monitor tests/fleet

# The dashboard's browser test drives Debian's chromium through Playwright (never a downloaded
# browser): installed here when missing (CI runs as root), else the line that installs it.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
	  || { echo "make test: chromium is missing: apt-get install -y chromium"; exit 1; }

# The audit run: the fuzzer's audit profile (>= 100,000 steps, BULKHEAD_FUZZ_STEPS to change,
# split over AUDIT_JOBS processes) and the attack catalogue under titanoboa's line coverage
# (fails under 90 %), then the access-control matrix on Anvil. Prints the steps per rule and
# the coverage per file.
AUDIT_JOBS ?= 2
audit: compile
	$(PY) -m tests.fuzz.audit --jobs $(AUDIT_JOBS)
	coverage report --rcfile=tests/audit/coverage.rc --fail-under=90
	pytest -p no:cacheprovider -q tests/audit/test_access_control.py

# Mutation testing (docs/AUDIT.md, "Mutation testing"): each mutant of
# tests/mutation/catalogue.py is seeded, one at a time, into a worker's copy of contracts/ and
# the fast titanoboa suites run against it (2 workers). Prints the kill rate and the
# survivors; fails when a mutant not marked equivalent survives. Logs: .build/mutate/.
mutate: install
	$(PY) -m tests.mutation --jobs 2

lint: install
	$(PY) -m ruff check bulkhead tests scripts bench bots

clean:
	rm -rf .build $(VENV) node_modules

# Benchmarks (gas, bytecode sizes, keeper speed): writes docs/PERFORMANCE.md; takes minutes.
.PHONY: bench
bench: install
	$(PY) -m bench
