# Two commands set everything up: `make demo` and `make test`.
# Each target creates or refreshes the local virtual environment by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint typecheck check model clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crampwatch demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

# what CI runs before the tests
check: lint typecheck

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

model: $(STAMP)
	$(BIN)/crampwatch train --eval-nights 36 --soak-nights 100   # writes src/crampwatch/models/ (package data)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
