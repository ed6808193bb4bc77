# SPDX-License-Identifier: GPL-2.0-only
# Thin wrapper around Meson/Ninja. The two commands a newcomer needs:
#   make run    build and serve a demo target on 127.0.0.1:$(PORT)
#   make test   build (warnings as errors) and run unit, integration and conformance tests,
#               then the same under ASan+UBSan
BUILD      ?= build
ASAN_BUILD ?= build-asan
PORT       ?= 3260
MESON_OPTS ?=

.PHONY: all deps build run test test-fast asan clean install

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	@scripts/install-deps.sh build
	meson setup $(BUILD) -Dwerror=true $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	@scripts/install-deps.sh build
	meson setup $(ASAN_BUILD) -Dwerror=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debug $(MESON_OPTS)

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

run: build
	@PORT=$(PORT) BUILD=$(BUILD) scripts/run-demo.sh

# The whole suite: optimized build with -Werror, then ASan+UBSan build.
test: deps build asan
	meson test -C $(BUILD) --print-errorlogs --suite unit --suite integration --suite conformance
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs --suite unit --suite integration
	@scripts/test-summary.py $(BUILD)/meson-logs/testlog.json $(ASAN_BUILD)/meson-logs/testlog.json

# Unit tests only, for quick iterations.
test-fast: build
	meson test -C $(BUILD) --print-errorlogs --suite unit

install: build
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
