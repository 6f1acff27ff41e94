# supportbot — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export OMP_WAIT_POLICY := PASSIVE

.PHONY: help install train seed run test test-fast lint bench browser-deps cluster-deps clean

help:
	@echo "make run     install, train, index and serve the demo shop on http://$(HOST):$(PORT)"
	@echo "make test    the full test suite (unit, integration, browser)"
	@echo "make bench   accuracy, retrieval, latency and load benchmarks -> benchmarks/results/"
	@echo "make lint    ruff, mypy --strict and the import contracts (lint-imports)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: this is the CPU build; an unpinned torch pulls a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

train: install
	$(BIN)/supportbot train

seed: install
	$(BIN)/supportbot seed

run: train
	$(BIN)/supportbot serve --host $(HOST) --port $(PORT)

# Debian's chromium for the browser tests (Playwright cannot download browsers here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Debian's haproxy for the cluster tests (tests/cluster: nodes behind a real load balancer; docs/deploy.md).
cluster-deps:
	@command -v haproxy >/dev/null 2>&1 || { \
		echo "installing Debian's haproxy for the cluster tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq haproxy >/dev/null; }

test: install browser-deps cluster-deps
	$(BIN)/python -m pytest -p no:cacheprovider -q

test-fast: install
	$(BIN)/python -m pytest -p no:cacheprovider -q -m "not integration and not browser"

lint: install
	$(BIN)/ruff check bot server tests benchmarks
	$(BIN)/ruff format --check bot server tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf .supportbot .pytest_cache .mypy_cache .ruff_cache
