# ShopFest: `make demo` runs the demo festival, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AXE := node_modules/axe-core/axe.min.js

.PHONY: demo test test-cluster lint chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shopfest demo

$(AXE): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $(AXE)

test: $(STAMP) chromium $(AXE)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist loadfile

# The checkout, stock, idempotency, pricing and refund tests on private Citus and Redis Cluster
# clusters (started from ../shared/dist, or SHOPFEST_CLUSTER_DIST), then tests/cluster.
test-cluster: $(STAMP)
	BIN=$(BIN) bash scripts/test-cluster

chromium:
	@sh scripts/ensure-chromium

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules shopfest.db shopfest.db-wal shopfest.db-shm test-artifacts

# In a second terminal while `make demo` serves: festival-night traffic against it (`shopfest simulate --help`).
.PHONY: simulate
simulate: $(STAMP)
	$(BIN)/shopfest simulate
