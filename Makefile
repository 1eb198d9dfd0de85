# Thin wrapper over CMake presets. `make test` and `make demo` are the only commands a fresh
# Debian 12 machine needs: both install the dependencies first.
PRESET ?= release
BUILD  := build/$(PRESET)
GQA    := $(BUILD)/gqa
JOBS   ?= 2

.PHONY: all deps configure build test asan portable fuzz demo bench format golden clean

all: build

deps:
	scripts/install-deps.sh

configure:
	cmake --preset $(PRESET)

build: configure
	cmake --build --preset $(PRESET) -j$(JOBS)

test: deps
	$(MAKE) build
	ctest --preset $(PRESET) -j$(JOBS)

# Every test again under AddressSanitizer and UBSan (debug build); .ci/run runs it after make test.
asan: deps
	cmake --preset asan-ubsan
	cmake --build --preset asan-ubsan -j$(JOBS)
	ctest --preset asan-ubsan -j$(JOBS)

# Built for any x86-64-v2 CPU, every test run once per kernel level below AVX-512 that this CPU
# has (GQA_ISA=avx2, then scalar), so the AVX2 and scalar paths are tested, not only compiled;
# .ci/run runs it after make asan. The planner page's browser test, the tokenizer's comparisons
# with the Node references and the Unicode table check do not depend on the level (make test and
# make asan run them).
portable: deps
	cmake --preset portable
	cmake --build --preset portable -j$(JOBS)
	@for isa in avx2 scalar; do \
	  if [ $$isa = avx2 ] && ! grep -qw avx2 /proc/cpuinfo; then continue; fi; \
	  echo "== GQA_ISA=$$isa"; \
	  GQA_ISA=$$isa ctest --preset portable -j$(JOBS) \
	    -E 'planner_web_e2e|AgainstRust|unicode_tables_current' || exit 1; \
	done

# libFuzzer (clang) on every reader of untrusted input, FUZZ_SECONDS per target, after replaying
# the committed crash regressions. .ci/run runs it with a short budget; docs/security.md.
FUZZ_SECONDS ?= 60
fuzz: deps
	cmake --preset fuzz
	cmake --build --preset fuzz -j$(JOBS)
	scripts/run-fuzz.sh build/fuzz $(FUZZ_SECONDS)

# The main job: the GQA paper's conversion + uptraining experiment on the committed KJV model
# (see docs/reproduce.md). Builds only the programs it runs.
demo: deps
	cmake --preset $(PRESET)
	cmake --build --preset $(PRESET) -j$(JOBS) --target gqa gqa-trainer
	$(GQA) reproduce --out demo-out --force

bench: deps
	$(MAKE) build
	@for b in $(BUILD)/bench/bench_*; do echo "== $$b"; "$$b" || exit 1; done

# Regenerates tests/data/golden from the independent PyTorch reference (needs python3-torch).
golden:
	scripts/install-deps.sh --golden
	/usr/bin/python3 tests/data/make_golden.py

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build
