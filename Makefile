# The README's two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test check lint typecheck imports bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e '.[dev,ray]'
	$(BIN)/python -m compileall -q -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/curator

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -n 3 --dist worksteal -m "not ray"
	$(BIN)/pytest -m ray

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check curator tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The layer contracts in pyproject.toml (docs/architecture.md, Layers); also run by the tests.
imports: $(STAMP)
	$(BIN)/lint-imports --no-cache

check: lint typecheck imports test

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
