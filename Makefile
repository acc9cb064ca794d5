# The one place that knows where the virtualenv is. Every target sets it up first if needed.
#   make test     unit tests + end-to-end papermill runs of the quick study
#   make test-fast  the tests not marked `slow` (papermill studies, the Ray grid, a second corpus): under 2 min
#   make study    the whole study on the default synthetic profile -> results/default/, README's results block
#   make bench    benchmarks (ratios against in-run baselines)
#   make lab-check  the notebooks in JupyterLab in headless Chromium on the quick profile (not in test/CI;
#                   needs `apt-get install chromium`); screenshots in results/lab-check/
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-8)
PROFILE ?= default

.PHONY: setup test test-fast study bench lab-check clean-results

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps 'facenet-pytorch==2.6.0'  # MTCNN; its metadata pins torch<2.3 (pyproject.toml)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

study: $(STAMP)
	$(BIN)/mmlib study --profile $(PROFILE)
	@if [ "$(PROFILE)" = default ]; then $(BIN)/mmlib report; fi

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lab-check: $(STAMP)
	$(BIN)/python .ci/lab_check.py --profile quick
