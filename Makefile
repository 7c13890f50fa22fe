# cnn-suite: `make test` (quick mode, < 10 min on 2 CPU cores) and `make execute-all` (graded run).
# Both create .venv and install requirements.txt on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB     ?=
ONLY   ?=
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED ?= 0

.PHONY: help setup test unit notebooks mutate execute-all execute readme bench bench-ablations colab-cell lint clean distclean

help:
	@echo "make setup        create $(VENV) and install requirements.txt + helpers"
	@echo "make test         unit tests + every notebook in quick mode (nbmake)"
	@echo "make mutate       plant each bug of tests/mutations.py in a copy; every one must fail a test"
	@echo "make execute-all  run every notebook in full mode -> answers/ (ipynb, html, results.json)"
	@echo "make execute NB=04  run one notebook in full mode (add QUICK=1 for quick mode)"
	@echo "make readme       rewrite the README results table from answers/results.json"
	@echo "make bench        every dataset's recipes under their full budgets (about 2 h on 2 CPU cores)"
	@echo "make bench-ablations  what each recipe ingredient buys (about 1.25 h on 2 CPU cores)"
	@echo "make bench ONLY=gtsrb  one or more of: gtsrb ahe cats_dogs cifar10 pipeline"
	@echo "make colab-cell   rewrite the Colab set-up cell (first cell) of every notebook"
	@echo "make lint         ruff on helpers/ and tests/, nbqa ruff on notebooks/"
	@echo "make clean        remove build outputs and caches (keeps .venv and data/)"

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

test: setup
	CNN_SUITE_QUICK=1 $(BIN)/python -m pytest tests --nbmake notebooks \
		--nbmake-timeout=900 --durations=10 -q

unit: setup
	$(BIN)/python -m pytest tests -q

# tests/test_network_guard.py is named so that tests/conftest.py (the network guard) loads
notebooks: setup
	CNN_SUITE_QUICK=1 $(BIN)/python -m pytest tests/test_network_guard.py --nbmake notebooks \
		--nbmake-timeout=900 -q

# mutation testing (slow, not in CI): tests/README.md has the last report
mutate: setup
	$(BIN)/python tests/mutations.py $(if $(ONLY),--only $(ONLY),)

execute-all: setup
	$(BIN)/python -m helpers.execute
	$(BIN)/python -m helpers.execute --readme

readme: setup
	$(BIN)/python -m helpers.execute --readme

execute: setup
	@test -n "$(NB)" || (echo "usage: make execute NB=04 [QUICK=1]" && exit 2)
	$(BIN)/python -m helpers.execute $(NB) $(if $(QUICK),--quick,)

colab-cell: setup
	$(BIN)/python helpers/colab.py notebooks

bench: setup
	$(BIN)/python -m benchmarks $(ONLY) --part headline --readme

bench-ablations: setup
	$(BIN)/python -m benchmarks $(ONLY) --part ablations --readme

lint: setup
	$(BIN)/ruff check helpers tests benchmarks
	$(BIN)/nbqa ruff notebooks

clean:
	rm -rf build .pytest_cache .ruff_cache answers/*.partial.ipynb answers/.results
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
