# SPDX-License-Identifier: GPL-2.0-only
# Thin wrapper around Meson/Ninja. The two commands a newcomer needs:
#   make run    build and serve a demo target on 127.0.0.1:$(PORT)
#   make test   build (warnings as errors) and run unit, integration and conformance tests,
#               then the same under ASan+UBSan
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
PORT       ?= 3260
PREFIX     ?= /usr/local
MESON_OPTS ?=

.PHONY: all deps build run test test-fast asan fuzz bench clean install

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	@scripts/install-deps.sh build
	meson setup $(BUILD) -Dwerror=true --prefix=$(PREFIX) $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	@scripts/install-deps.sh build
	meson setup $(ASAN_BUILD) -Dwerror=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debug -Dtest_hooks=true $(MESON_OPTS)

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

$(FUZZ_BUILD)/build.ninja:
	@scripts/install-deps.sh build
	CC=clang meson setup $(FUZZ_BUILD) -Dwerror=true -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false $(MESON_OPTS)

# libFuzzer targets (clang), each for FUZZ_SECONDS, corpora kept in $(FUZZ_BUILD)/corpus-*.
fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	for t in pdu text cdb mgmt conn config isns; do FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run-fuzz.sh \
	  $(FUZZ_BUILD)/tests/fuzz/fuzz_$$t tests/fuzz/corpus/$$t $(FUZZ_BUILD)/corpus-$$t || exit 1; done

run: build
	@PORT=$(PORT) BUILD=$(BUILD) scripts/run-demo.sh

# The whole suite: optimized build with -Werror, then ASan+UBSan build, then short fuzz runs.
test: deps build asan $(FUZZ_BUILD)/build.ninja
	meson test -C $(BUILD) --print-errorlogs --suite unit --suite integration --suite conformance --suite vm
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs --suite unit --suite integration
	ninja -C $(FUZZ_BUILD) && meson test -C $(FUZZ_BUILD) --print-errorlogs --suite fuzz
	@scripts/test-summary.py $(BUILD)/meson-logs/testlog.json $(ASAN_BUILD)/meson-logs/testlog.json \
		$(FUZZ_BUILD)/meson-logs/testlog.json

# Compare utgtd with tgt side by side on loopback (docs/performance.md).
bench:
	@bench/run.sh $(BENCH_ARGS)

# Unit tests only, for quick iterations.
test-fast: build
	meson test -C $(BUILD) --print-errorlogs --suite unit

install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX) && ninja -C $(BUILD)
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
