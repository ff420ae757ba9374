# The two quickstart commands: `make demo` (set up, then train the default meta-agent) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-mujoco test-metaworld bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# A CPU build of torch, when the machine offers one (a local wheel or a CPU index), saves a multi-GB
	@# CUDA download; elsewhere this fails quietly and the next line installs the platform's default build.
	$(BIN)/pip install -q "torch==2.13.0+cpu" 2>/dev/null || true
	$(BIN)/pip install -q -e ".[dev,sb3]"
	touch $@

# The MuJoCo families in their own virtual environment: the mujoco extra pins its own MuJoCo (through mjbatch),
# so it stays apart from the core install and from other extras that pin another MuJoCo.
MUJOCO_VENV ?= .venv-mujoco

$(MUJOCO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(MUJOCO_VENV)
	$(MUJOCO_VENV)/bin/pip install -q "torch==2.13.0+cpu" 2>/dev/null || $(MUJOCO_VENV)/bin/pip install -q "torch==2.13.0"
	$(MUJOCO_VENV)/bin/pip install -q -e ".[dev,sb3,mujoco]"
	touch $@

test-mujoco: $(MUJOCO_VENV)/.installed
	$(MUJOCO_VENV)/bin/python -c "import mujoco, mjbatch"  # the extra must import: its tests must run, not skip
	$(MUJOCO_VENV)/bin/python -m pytest -m mujoco

demo: $(VENV)/.installed
	@echo "RL² demo: 1M training steps (about a minute on a CPU), far short of the paper's recipe; the score below says which recipe reaches it"
	$(BIN)/metarl train --config configs/rl2_demo.yaml --eval-trials 1000

test: $(VENV)/.installed
	$(BIN)/python -m pytest

# Meta-World pins MuJoCo 3.3.0, which may clash with metarl[mujoco]: its tests run in a venv of their own
MW_VENV ?= .venv-metaworld

$(MW_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(MW_VENV)
	$(MW_VENV)/bin/pip install -q "torch==2.13.0+cpu" 2>/dev/null || $(MW_VENV)/bin/pip install -q "torch==2.13.0"
	$(MW_VENV)/bin/pip install -q -e ".[dev,sb3,metaworld]"
	touch $@

test-metaworld: $(MW_VENV)/.installed
	$(MW_VENV)/bin/python -c "import metaworld"  # the extra must import: its tests must run, not skip
	$(MW_VENV)/bin/python -m pytest -m metaworld

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/throughput.py --json bench-results/throughput.json
	$(BIN)/python benchmarks/reference_solvers.py

lint: $(VENV)/.installed
	$(BIN)/ruff check metarl envs agents tests benchmarks

clean:
	rm -rf $(VENV) $(MUJOCO_VENV) $(MW_VENV) build *.egg-info
