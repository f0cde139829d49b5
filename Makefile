# The two commands: `make run` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INSTALL_LOG := var/install.log

.PHONY: run test install lint schema bench bench-peers clean

# A laptop quick start serves plain HTTP; production runs `python -m jobsite.run` behind TLS.
run: $(STAMP)
	JOBSITE_HTTPS=$${JOBSITE_HTTPS:-false} $(BIN)/python -m jobsite.run

# The embedded test database lives apart from `make run`'s data (unless DATABASE_URL is set). The suite runs
# in TEST_WORKERS pytest-xdist processes, each on a test database of its own, one test file per process at a
# time (a file's worker node or Chromium is started once); TEST_WORKERS=0 runs it in this process. Three on two
# cores: much of the suite waits (outages, leases, real servers), and two processes kept the CPU 54% busy;
# on the 2-core machine 6:39 with two, 5:00 with three, 4:40 with four.
TEST_WORKERS ?= 3
test: $(STAMP)
	JOBSITE_DATA_DIR=$${JOBSITE_DATA_DIR:-$(CURDIR)/var/test} JOBSITE_HTTPS=$${JOBSITE_HTTPS:-false} \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

install: $(STAMP)

# pip's output goes to $(INSTALL_LOG), shown only when the install fails: on a first `make run` the admin
# password printed at the end must not drown in it.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Jobsite needs Python 3.11")'
	@mkdir -p $(dir $(INSTALL_LOG))
	@echo "installing Jobsite and its dependencies into $(VENV) (log: $(INSTALL_LOG))..."
	@{ { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } \
		&& $(BIN)/python -m pip install --upgrade pip \
		&& $(BIN)/python -m pip install -e '.[test,redis,lint]'; } >$(INSTALL_LOG) 2>&1 \
		|| { tail -n 40 $(INSTALL_LOG); echo "the install failed; the whole log is in $(INSTALL_LOG)"; exit 1; }
	@touch $(STAMP)

# Formatting, lint rules and the import contracts of DESIGN.md §2 (pyproject.toml [tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

schema: $(STAMP)
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml

# Every benchmark under bench/ (bench/all.py lists them), then one table of their figures against their
# targets. `make bench BENCH_ARGS=--quick` for the small sizes; `BENCH_ARGS="--only web"` for one of them.
bench: $(STAMP)
	$(BIN)/python -m bench.all $(BENCH_ARGS)

# Jobsite's slice throughput against pgqueuer's batched throughput, interleaved on the same embedded
# PostgreSQL (bench/peers.py; `BENCH_ARGS=--quick` for one small round). pgqueuer lives in a virtualenv of
# its own, $(PEERS_VENV), never in $(VENV); its first install needs the package index. asyncpg is the
# driver pgqueuer's own benchmark defaults to, and its docs measure it ~1.7x psycopg's throughput.
PEERS_VENV := var/peers-venv
PEERS_PACKAGES := pgqueuer==1.6.0 asyncpg==0.32.0
bench-peers: $(STAMP) $(PEERS_VENV)/.installed
	$(BIN)/python -m bench.peers $(BENCH_ARGS)

$(PEERS_VENV)/.installed: Makefile
	@mkdir -p var
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet $(PEERS_PACKAGES)
	@touch $@

clean:
	rm -rf $(VENV) var/test $(PEERS_VENV)
