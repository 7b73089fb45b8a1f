# The README's two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test check lint typecheck imports bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/curator

test: $(STAMP)
	$(BIN)/ruff check .
	@# The Ray engine's tests run beside the rest, in a process of their own at a lower priority
	@# (one local Ray for all of them): they use the CPU the Pilot tests leave idle while waiting.
	@log=$$(mktemp); nice -n 10 $(BIN)/pytest -m ray -p no:cacheprovider >$$log 2>&1 & ray_pid=$$!; \
	$(BIN)/pytest -n 2 --dist worksteal -m "not ray"; main=$$?; \
	wait $$ray_pid; ray=$$?; echo "--- the Ray engine's tests (pytest -m ray, run beside the rest):"; \
	cat $$log; rm -f $$log; test $$main -eq 0 && test $$ray -eq 0

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
