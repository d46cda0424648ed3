# ShopFest: `make demo` runs the demo festival, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shopfest demo

test: $(STAMP) chromium
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/pytest -q

chromium:
	@sh scripts/ensure-chromium

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) shopfest.db shopfest.db-wal shopfest.db-shm test-artifacts
