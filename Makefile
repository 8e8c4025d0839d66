# The one command surface for people and CI. `make help` lists the targets.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install demo test-deps test test-rust test-python fuzz fuzz-smoke bench bench-table lint format clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

install: ## Build (release) and install fraudcore
	$(PIP) install .

demo: install ## Install and score the bundled example calls
	fraudcore demo

test-deps: ## Install fraudcore with its test dependencies
	$(PIP) install ".[test]"

test: test-deps test-rust test-python fuzz-smoke ## Install test dependencies and run every test

test-rust: ## cargo tests, doc tests, and each criterion bench once
	cargo test
	cargo bench --bench core -- --test
	cargo bench --bench velocity -- --test
	cargo bench --bench batch -- --test
	cargo bench --bench lists -- --test

test-python: ## pytest: tests and benches (each benchmark runs once)
	$(PYTHON) -m pytest

fuzz: ## Fuzz every target FUZZ_SECONDS each (default 15; long runs: FUZZ_SECONDS=600)
	fuzz/run.sh $${FUZZ_SECONDS:-15}

fuzz-smoke: ## What CI runs: the crash reproducers, then every fuzz target for 8 s
	fuzz/run.sh 8

# Rounds of at least 100 us, calibrated after 100 warm-up calls: a round of one
# sub-microsecond call would time perf_counter too (about 0.2-0.3 us a round on this VM), and
# without the warm-up pytest-benchmark settles on one call a round when the first, cold call
# is slow.
bench: ## Time the benchmarks (Python and Rust) and print the README table
	$(PYTHON) -m pytest benches --benchmark-enable --benchmark-only --benchmark-min-time=0.0001 \
		--benchmark-warmup=on --benchmark-warmup-iterations=100 \
		--benchmark-json=target/bench.json -p no:randomly
	FRAUDCORE_PLAN=$$($(PYTHON) -c 'import fraudcore._plan as p; p.load_plan(); print(p.cache_path())') \
		cargo bench --bench core
	cargo bench --bench velocity
	FRAUDCORE_PLAN=$$($(PYTHON) -c 'import fraudcore._plan as p; print(p.cache_path())') \
		cargo bench --bench batch
	cargo bench --bench lists
	$(PYTHON) benches/table.py target/bench.json

lint: ## rustfmt, clippy (warnings are errors), ruff
	$(PIP) install -q "ruff>=0.6"
	cargo fmt --check
	cargo clippy --all-targets --features python -- -D warnings
	$(PYTHON) -m ruff check python tests benches

format: ## Format Rust and Python sources
	cargo fmt
	$(PYTHON) -m ruff format python tests benches

clean: ## Remove build output
	cargo clean
