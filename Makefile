# Two commands: `make demo` and `make test`. Both set up the virtualenv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint docs bench clean clean-cache

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,test,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/streamlearn demo

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: lint docs
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/bench_startup.py
	$(BIN)/python bench/bench_linear.py
	$(BIN)/python bench/bench_defaults.py
	$(BIN)/python bench/bench_drift.py
	$(BIN)/python bench/bench_adapt.py
	$(BIN)/python bench/bench_runner.py
	$(BIN)/python bench/bench_service.py
	$(BIN)/python bench/bench_bandit.py
	$(BIN)/python bench/bench_recommend.py
	$(BIN)/python bench/bench_neural.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_soak.py --markdown bench/out/soak.md

clean: clean-cache
	rm -rf $(VENV) build *.egg-info src/*.egg-info

# numba's on-disk cache of a compiled function is checked against its own file only, not the
# files of the helpers it inlines: after editing such a helper, drop the cache.
clean-cache:
	find src -name '*.nbi' -delete -o -name '*.nbc' -delete
