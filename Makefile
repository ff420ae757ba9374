# The two quickstart commands: `make demo` (set up, then train the default meta-agent) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
comma := ,

.PHONY: demo test test-mujoco test-metaworld bench lint clean

# A fresh venv $(1) with metarl installed (editable) and the extras $(2). A CPU build of torch, when the machine
# offers one (a local wheel or a CPU index), saves a multi-GB CUDA download; elsewhere the install below pulls the
# platform's default build.
define make_venv
	$(PYTHON) -m venv $(1)
	$(1)/bin/pip install -q "torch==2.13.0+cpu" 2>/dev/null || $(1)/bin/pip install -q "torch==2.13.0" 2>/dev/null || true
	$(1)/bin/pip install -q -e ".[$(2)]"
	touch $(1)/.installed
endef

# The extra's own tests, in its own venv: the extra must import (its tests must run, not skip), then pytest -m $(1)
define test_extra
	$(2)/bin/python -c "import $(3)"
	$(2)/bin/python -m pytest -m $(1)
endef

CORE_EXTRAS := dev,sb3

$(VENV)/.installed: pyproject.toml
	$(call make_venv,$(VENV),$(CORE_EXTRAS))

# The MuJoCo families in their own virtual environment: the mujoco extra pins its own MuJoCo (through mjbatch),
# so it stays apart from the core install and from other extras that pin another MuJoCo.
MUJOCO_VENV ?= .venv-mujoco

$(MUJOCO_VENV)/.installed: pyproject.toml
	$(call make_venv,$(MUJOCO_VENV),$(CORE_EXTRAS)$(comma)mujoco)

test-mujoco: $(MUJOCO_VENV)/.installed
	$(call test_extra,mujoco,$(MUJOCO_VENV),mujoco$(comma) mjbatch)

demo: $(VENV)/.installed
	@echo "RL² demo: 1M training steps (about a minute on a CPU), far short of the paper's recipe; the score below says which recipe reaches it"
	$(BIN)/metarl train --config configs/rl2_demo.yaml --eval-trials 1000

test: $(VENV)/.installed
	$(BIN)/python -m pytest

# Meta-World pins MuJoCo 3.3.0, which may clash with metarl[mujoco]: its tests run in a venv of their own
MW_VENV ?= .venv-metaworld

$(MW_VENV)/.installed: pyproject.toml
	$(call make_venv,$(MW_VENV),$(CORE_EXTRAS)$(comma)metaworld)

test-metaworld: $(MW_VENV)/.installed
	$(call test_extra,metaworld,$(MW_VENV),metaworld)

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/throughput.py --json bench-results/throughput.json
	$(BIN)/python benchmarks/reference_solvers.py

lint: $(VENV)/.installed
	$(BIN)/ruff check metarl envs agents tests benchmarks

clean:
	rm -rf $(VENV) $(MUJOCO_VENV) $(MW_VENV) build *.egg-info
