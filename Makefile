# Every setup step lives here: CI runs `make test` on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: venv ext test lint typecheck pytest demo bench traces screenshots clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ext

# What only the benchmarks use (VizTracer, printed beside figure 5), not needed by the tests.
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# The optional C accelerators, built in place (only when a source changed): tools/build_ext.py.
ext: $(STAMP)
	$(PY) tools/build_ext.py

lint: $(STAMP)
	$(VENV)/bin/ruff check lambda_trace tests tools
	$(VENV)/bin/ruff format --check lambda_trace tests tools

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) ext
	TEXTUAL_ANIMATIONS=none $(PY) -m pytest

test: lint typecheck pytest

demo: $(STAMP) ext
	$(PY) -m lambda_trace demo

bench: $(BENCH_STAMP) ext
	$(PY) tests/benchmarks/run_all.py

traces: $(STAMP) ext
	$(PY) -m lambda_trace.examples.record_all traces

screenshots: $(STAMP) ext
	$(PY) tests/screenshots.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
	find lambda_trace -name '*.so' -delete
