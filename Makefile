# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test deps venv lint bench clean

deps:
	@scripts/install-debian-packages.sh

# Debian packages first (order-only: also under make -j); rebuilt when the dependencies change.
$(VENV)/.installed: pyproject.toml Makefile | deps
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/uchastok demo

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: venv lint
	$(VENV)/bin/pytest

bench: venv
	$(VENV)/bin/pip install -q -e '.[bench]' || true
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
