# The two commands a newcomer needs: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The project's optional dependency groups to install (.ci/run adds `bench` for the locust test).
EXTRAS ?= test,lint

.PHONY: demo test test-py test-c lint bench install clean annotate container-test

$(STAMP): pyproject.toml setup.py gateway/_fastpath.pyx
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	$(BIN)/python setup.py -q build_ext --inplace
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python demo/demo.py

# The whole suite twice: with the compiled fast path (required), then pure Python.
test: $(STAMP)
	GATEWAY_REQUIRE_EXTENSIONS=1 $(BIN)/python -m pytest -q
	GATEWAY_NO_EXTENSIONS=1 $(BIN)/python -m pytest -q

test-c: $(STAMP)
	GATEWAY_REQUIRE_EXTENSIONS=1 $(BIN)/python -m pytest -q

test-py: $(STAMP)
	GATEWAY_NO_EXTENSIONS=1 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check gateway tests benchmarks demo
	$(BIN)/mypy gateway

# The benchmark suite vs nginx (~5 min); `make bench BENCH_ARGS=--quick` for a <1 min run.
BENCH_ARGS ?=
bench: $(STAMP)
	@(command -v wrk && (command -v nginx || test -x /usr/sbin/nginx)) >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq wrk nginx)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# Builds the Dockerfile with buildah on a local Debian base and runs it (tests/container/run.sh);
# prints SKIPPED without buildah. Needs root; the first run debootstraps the base (~2 min).
container-test:
	bash tests/container/run.sh

# Cython's annotated HTML of the fast path (yellow lines call into the Python C API); the C file it
# writes goes to build/annotate, so the tree's generated gateway/_fastpath.c is left alone.
annotate: $(STAMP)
	$(BIN)/cython -3 -a -o build/annotate/_fastpath.c gateway/_fastpath.pyx
	@echo "annotated: build/annotate/_fastpath.html"

clean:
	rm -rf build dist *.egg-info gateway/_fastpath.c gateway/_fastpath*.so gateway/_fastpath.html
