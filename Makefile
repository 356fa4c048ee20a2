# The two commands a new machine needs: `make demo` and `make test`. Each installs what it needs
# into .venv first (once; again when pyproject.toml changes).
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: install demo test pytest lint typecheck crd deploy bench check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/rollout demo

# What CI runs (.ci/run): style, types, then the whole test suite.
test: install lint typecheck pytest

# Two workers for most of the suite: its tests mostly wait on sandboxes, controllers and
# Prometheus, so two at a time nearly halve the time on two cores. Tests marked `alone` (the
# fault suite, the scale smoke test, leader election's freeze timings) keep the machine
# to themselves afterwards (they run even when the first part failed, so one CI run shows
# every failure). `--dist loadfile` keeps a module's expensive fixtures built once.
pytest: install
	status=0; \
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not alone" || status=$$?; \
	$(BIN)/pytest -q -m alone || status=$$?; \
	exit $$status

lint: install
	$(BIN)/ruff check rollout strategies meshes dashboards tests
	$(BIN)/ruff format --check rollout strategies meshes dashboards tests

typecheck: install
	$(BIN)/mypy

crd: install
	$(BIN)/python -m rollout.crd

# deploy/install.yaml, deploy/namespace-install.yaml and the Helm chart's generated files
# (its RBAC table and CRD copies), from rollout/manifests/; a test fails when they are stale.
deploy: install
	$(BIN)/python -m rollout.manifests

bench: install
	$(BIN)/python -m tests.bench.canary_bench --rollouts 100 1000 --routers none istio gatewayAPI nginx linkerd
	$(BIN)/python -m tests.bench.decision_bench --runs 1000

check: test

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
