# One command installs and runs the demo, one installs and runs the tests. Both start from a bare Python.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.medtune-installed
# Extra pip arguments for torch, e.g. an index with CPU-only wheels on a machine without one on disk.
TORCH_PIP_ARGS ?=

.PHONY: install native demo test lint repro bench bench-train bench-eval bench-phi bench-policy clean

# The PHI scanner's hot modules, compiled with mypyc by setup.py when a C compiler is available.
HOT    := $(addprefix src/medtune/privacy/,tokens.py patterns.py names.py places.py)
NATIVE := $(VENV)/.medtune-native

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned in every later step, so no dependency can pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install --quiet -e '.[dev]' torch==2.13.0
	touch $(STAMP) $(NATIVE)

# After an edit to a hot module: rebuild its compiled form (until then the pure-Python source runs).
$(NATIVE): $(STAMP) $(HOT)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(NATIVE)

install: $(STAMP) $(NATIVE)

native: $(NATIVE)

demo: install
	$(BIN)/medtune run configs/quickstart.yaml

test: install
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -q --durations=15; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; \
	exit $$status

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

repro: install
	$(BIN)/medtune repro

# Speed against the peer tools, each printing ratios measured in the same run (bench/README.md).
bench: bench-train bench-eval bench-phi bench-policy

bench-train: install
	$(BIN)/python bench/train_speed.py --rounds 3

bench-eval: install
	$(BIN)/python bench/eval_speed.py

bench-phi: install
	$(BIN)/python bench/phi_speed.py

bench-policy: install
	$(BIN)/python bench/policy_speed.py

clean:
	rm -rf runs .medtune bench/results .pytest_cache build
