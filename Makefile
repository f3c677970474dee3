# One command sets everything up and runs the main job (`make demo`); one runs the linter (layering
# rules) and the tests (`make test`). `make demo DEMO_ARGS=--synthetic` runs the main job on the embedded
# synthetic candles even where real data exists.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

# setuptools notes on every editable install that same-named folders in the working directory take
# precedence; here they are the packages themselves, so that one notice is silenced (nothing else is).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/train demo $(DEMO_ARGS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/bench_materialize.py

clean:
	rm -rf $(VENV) fsdata .pytest_cache
