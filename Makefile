# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv, install the pinned requirements, the system fluidsynth library
# and the FluidR3 GM soundfont where missing (`make test` also Chromium), then run.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.requirements-installed

.PHONY: setup system-deps browser-deps demo studio test lint clean

setup: system-deps $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else f"pianola needs Python 3.10-3.12 (3.11 tested); {sys.executable} is {v[0]}.{v[1]}. Set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

system-deps:
	@sh scripts/install-system-deps.sh

browser-deps:
	@sh scripts/install-system-deps.sh --browser

demo: setup
	$(BIN)/python pipeline.py sample --out demo/song.mid

studio: setup
	$(BIN)/python pipeline.py studio

test: setup browser-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) demo studio .pytest_cache .ruff_cache
