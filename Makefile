# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make demo   set up .venv and run the main job (rayqe enhance) on the bundled sample videos
#   make test   set up .venv with the dev extras and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo_out

.PHONY: demo test venv lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip >/dev/null

venv: $(BIN)/python
	$(BIN)/pip install -e '.[samples,report]'

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -e '.[dev]'
	touch $@

demo: venv
	RAY_AUTH_MODE=disabled $(BIN)/rayqe demo --out $(DEMO_OUT)

test: $(VENV)/.dev-installed
	RAY_AUTH_MODE=disabled $(BIN)/python -m pytest -q

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check rayqe tests jobs scripts
	$(BIN)/ruff format --check rayqe tests jobs scripts

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
