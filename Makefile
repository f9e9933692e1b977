# The two commands: `make run` (the demo) and `make test` (the suite). Both set up .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench soak browser wrk clean

run: $(VENV)/.run-installed
	$(BIN)/python -m demo

# The suite in TEST_JOBS processes (pytest-xdist), each test file whole in one of them: most
# tests wait on servers they start, so three share two cores well. TEST_JOBS=0: one process.
TEST_JOBS ?= 3
test: $(VENV)/.dev-installed browser
	$(BIN)/python -m pytest $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile)

# The benchmarks at full size (several minutes each); figures go in bench/RESULTS.md.
bench: $(VENV)/.dev-installed wrk
	$(BIN)/python bench/bench_identity_safety.py --db both
	$(BIN)/python bench/bench_identity.py
	$(BIN)/python bench/bench_sidebar.py
	$(BIN)/python bench/bench_flags.py
	$(BIN)/python bench/bench_webhooks.py
	$(BIN)/python bench/bench_front.py
	$(BIN)/python bench/bench_source_faults.py
	$(BIN)/python bench/bench_database_faults.py
	$(BIN)/python bench/bench_warm_sidebar.py
	$(BIN)/python bench/bench_redis_cache.py
	$(BIN)/python bench/bench_startup.py --rounds 5
	$(BIN)/python bench/bench_cluster.py --burst 1000 --source-ms 50 --floor
	$(BIN)/python bench/bench_cluster.py --topology cluster --burst 1000 --source-ms 1000
	$(BIN)/python bench/bench_writeback_rate.py --seconds 60

# The fault and hostile-input suites at length (make test runs them small): ten times the
# generated inputs, the fault suite five times over, and the fault benchmarks for minutes.
soak: $(VENV)/.dev-installed browser
	CONNECTOR_SOAK=1 $(BIN)/python -m pytest -q tests/hostile
	for round in 1 2 3 4 5; do $(BIN)/python -m pytest -q tests/faults || exit 1; done
	$(BIN)/python bench/bench_source_faults.py --seconds 300
	$(BIN)/python bench/bench_database_faults.py --sidebars 2000 --webhooks 1000

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check connector demo tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.run-installed

# Browser tests use Debian's Chromium and its driver (no test tool downloads a browser), and
# Debian's jQuery for FreeScout's host page (tests/helpdesk/freescout/test_fragment_browser.py).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	  && [ -f /usr/share/javascript/jquery/jquery.min.js ] || \
	  { echo "installing Debian's chromium, chromium-driver and libjs-jquery for the browser tests"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo -n ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver libjs-jquery >/dev/null \
	    || echo "could not install chromium: the browser tests will be skipped (they say why)"; }

# bench_cluster's agents: Debian's wrk, a load generator in C (else Python threads, said)
wrk:
	@command -v wrk >/dev/null || \
	  { echo "installing Debian's wrk for bench_cluster's agents"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo -n ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null \
	    || echo "could not install wrk: bench_cluster's agents are Python threads"; }

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .grimp_cache .import_linter_cache
