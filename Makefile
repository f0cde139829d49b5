# The two commands: `make run` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint schema bench clean

# A laptop quick start serves plain HTTP; production runs `python -m jobsite.run` behind TLS.
run: $(STAMP)
	JOBSITE_HTTPS=$${JOBSITE_HTTPS:-false} $(BIN)/python -m jobsite.run

# The embedded test database lives apart from `make run`'s data (unless DATABASE_URL is set).
test: $(STAMP)
	JOBSITE_DATA_DIR=$${JOBSITE_DATA_DIR:-$(CURDIR)/var/test} JOBSITE_HTTPS=$${JOBSITE_HTTPS:-false} \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Jobsite needs Python 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,redis,lint]'
	touch $(STAMP)

# Formatting, lint rules and the import contracts of DESIGN.md §2 (pyproject.toml [tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

schema: $(STAMP)
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml

clean:
	rm -rf $(VENV) var/test
