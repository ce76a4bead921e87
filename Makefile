# Front door: `make run` serves the example zone on 127.0.0.1:5353, `make test` runs every test.
# Everything here is a thin wrapper: meson/ninja build, meson test runs the tests.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export DEBIAN_FRONTEND := noninteractive

BUILD      ?= build
BUILD_ASAN ?= build-asan
RUN_ADDR   ?= 127.0.0.1:5353
RUN_SOCK   ?= $(abspath $(BUILD))/run/control.sock
RUN_ZONE   ?= examples/example.com.zone

.PHONY: all deps build run test test-fast clean

all: build

# Debian packages for the build and the tests; does nothing when all are installed.
deps:
	tools/install-deps.sh

build: deps
	@if [ ! -f $(BUILD)/build.ninja ]; then meson setup $(BUILD); fi
	ninja -C $(BUILD)

# Serve examples/example.com.zone in the foreground; Ctrl-C stops it.
run: build
	@mkdir -p $(dir $(RUN_SOCK))
	@echo "Serving example.com on $(RUN_ADDR) (loopback only). Try, from another terminal:"
	@echo "  dig @127.0.0.1 -p $(lastword $(subst :, ,$(RUN_ADDR))) www.example.com A"
	@echo "  dig @127.0.0.1 -p $(lastword $(subst :, ,$(RUN_ADDR))) www.example.com A +tcp"
	@echo "  dig @127.0.0.1 -p $(lastword $(subst :, ,$(RUN_ADDR))) nothere.example.com A   # NXDOMAIN"
	@echo "  dig @127.0.0.1 -p $(lastword $(subst :, ,$(RUN_ADDR))) example.com MX"
	@echo "  $(BUILD)/tools/pharosctl -s $(RUN_SOCK) status"
	@echo "Press Ctrl-C to stop."
	@exec $(BUILD)/tools/pharos-serve --listen $(RUN_ADDR) --control-socket $(RUN_SOCK) \
		example.com=$(RUN_ZONE)

# Unit + integration tests, then the same under AddressSanitizer/UBSan (build-asan/).
test: build
	tests/lib/run-all.sh $(BUILD) $(BUILD_ASAN)

# Only the normal build's tests (quicker while developing).
test-fast: build
	meson test -C $(BUILD) --print-errorlogs

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
