# `make run` and `make test` are the two commands a newcomer needs (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean chromium prometheus
CHROMIUM := /usr/bin/chromium
PROMETHEUS := /usr/bin/prometheus

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing cobro (first run only, ~30 s)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Prometheus is optional for `make run`: where it cannot be installed, `cobro dev` says so and
# runs without it.
run: $(STAMP)
	@$(MAKE) --no-print-directory $(PROMETHEUS) >/dev/null 2>&1 || true
	@$(BIN)/cobro dev

# Debian packages the tests drive, installed on first use when this is a root Debian shell
# (the CI machine is); elsewhere the command to run is printed. $(1): package, $(2): what for,
# $(3): apt-get options.
define apt_install
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "==> installing Debian's $(1) for $(2) (first run only)"; \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			$(3) -o DPkg::Lock::Timeout=300 $(1); } \
			>/tmp/cobro-$(1)-install.log 2>&1 \
			|| { tail -20 /tmp/cobro-$(1)-install.log; exit 1; }; \
	else \
		echo "$@ is missing and this is not a root Debian shell; install it with:" >&2; \
		echo "    sudo apt-get update && sudo apt-get install -y $(3) $(1)" >&2; \
		exit 1; \
	fi
endef

# The Web UI test and `make screenshots` drive Debian's headless Chromium through Playwright
# (Playwright's own browser download needs internet access that our machines lack).
chromium: $(CHROMIUM)

$(CHROMIUM):
	$(call apt_install,chromium,the Web UI test)

# tests/e2e/test_tls.py puts Debian's nginx, terminating TLS with client certificates (mTLS), in
# front of the Temporal dev server; the test fails (never skips) without it.
NGINX := /usr/sbin/nginx

$(NGINX):
	$(call apt_install,nginx,the TLS test)

# Debian's `prometheus` package: promtool for the alert rules' unit tests (tests/unit/test_alerts.py)
# in `make test`, and the Prometheus server `make run` starts.
prometheus: $(PROMETHEUS)

$(PROMETHEUS):
	$(call apt_install,prometheus,the alert rule tests,--no-install-recommends)

# pytest includes `alembic check` (tests/db/test_migrations.py): it migrates a fresh database on
# the test PostgreSQL to head and fails on any difference between the models and the migrations.
test: $(STAMP) $(CHROMIUM) $(PROMETHEUS) $(NGINX)
	@$(BIN)/ruff check .
	@$(BIN)/mypy .
	@$(BIN)/pytest

# Benchmark against a bare Temporal baseline (bench/README.md); e.g. BENCH_ARGS="--n 50".
.PHONY: bench
bench: $(STAMP)
	@$(BIN)/python -m bench.run $(BENCH_ARGS)

# Chaos suite: kill -9 / stop every process, PSP and webhook faults, each on a fresh stack,
# every payment checked against the simulator's ledger (bench/chaos.py); e.g. CHAOS_ARGS="--n 10".
.PHONY: chaos
chaos: $(STAMP)
	@$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

# Many open payments on their timers, a full restart, every one expires or succeeds
# (bench/scale.py); e.g. SCALE_ARGS="--n 1000". The default 10,000 takes about 25 min.
.PHONY: bench-scale
bench-scale: $(STAMP)
	@$(BIN)/python -m bench.scale $(SCALE_ARGS)

# N OXXO vouchers expiring in the same minute while creates keep arriving (bench/herd.py); e.g.
# HERD_ARGS="--vouchers 1000". The default 5,000 takes about 20 min.
.PHONY: bench-herd
bench-herd: $(STAMP)
	@$(BIN)/python -m bench.herd $(HERD_ARGS)

# PNGs of the Temporal Web UI for README.md's ops runbook (scripts/screenshots.py).
.PHONY: screenshots
screenshots: $(STAMP) $(CHROMIUM)
	@$(BIN)/python -m scripts.screenshots

# The merchant API's OpenAPI schema, committed; tests/e2e/test_openapi_contract.py fails when the
# running API serves anything else.
.PHONY: openapi
openapi: $(STAMP)
	@$(BIN)/python -m api.openapi_dump > docs/openapi.json

lint: $(STAMP)
	@$(BIN)/ruff check . && $(BIN)/mypy .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
