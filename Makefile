# The one place that knows where the virtualenv is. Every target sets it up first if needed.
#   make test     unit tests + end-to-end papermill runs of the quick study
#   make test-fast  the tests not marked `slow` (papermill studies, the Ray grid, a second corpus): under 2 min
#   make study    the whole study on the default synthetic profile -> results/default/, README's results block
#   make study-claim1  notebooks 01-04 on a corpus 8x larger -> results/claim1/ (the README's claim-1 verdict)
#   make study-claim2  the same study with claim 2's sweep at 5 levels per modality -> results/claim2/ (the
#                 README's claim-2 verdicts); reuses results/default's checkpoints, so run it after `make study`
#   make study-all  the three in order (default, claim2, claim1): every result folder the README quotes
#   make bench    benchmarks (ratios against in-run baselines)
#   make lab-check  the notebooks in JupyterLab in headless Chromium on the quick profile (not in test/CI;
#                   needs `apt-get install chromium`); screenshots in results/lab-check/
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-8)
PROFILE ?= default

.PHONY: setup test test-fast study study-claim1 study-claim2 study-all bench lab-check clean-results

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade -c constraints.txt pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'  # the tested versions (constraints.txt)
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

# claim 1's corpus: 48 dialogs per session (24 improvised, 24 scripted), 432 labelled utterances per speaker, 8x the
# default's: the size at which the learning curve (results/curve-default/, validation speakers) first meets every
# target (the README says where the corpus stands, from the curve's record); it reuses the curve's checkpoints where
# data/ holds them
CLAIM1_SIZE := -o synth.impro_per_session=24 -o synth.script_per_session=24

study-claim1: $(STAMP)
	$(BIN)/mmlib study --profile default --run claim1 --notebooks 01 02 03 04 $(CLAIM1_SIZE)
	$(BIN)/mmlib report

# claim 2's sweep levels besides 1 (results/default runs level 0 only; everything else as in `make study`)
CLAIM2_LEVELS := [0.0, 0.25, 0.5, 0.75]

study-claim2: $(STAMP)
	$(BIN)/mmlib study --profile default --run claim2 -p sweep_levels "$(CLAIM2_LEVELS)"
	$(BIN)/mmlib report

study-all: study study-claim2 study-claim1

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lab-check: $(STAMP)
	$(BIN)/python .ci/lab_check.py --profile quick
