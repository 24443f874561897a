# Tally - the two commands a newcomer runs are `make run` and `make test`.
# Every target that needs a tool installs what is missing first (make deps).

SHELL := /bin/bash
BUILD := build
ASAN := build-asan
DATA ?= $(CURDIR)/var

# Debian 12 packages the project builds, tests and benchmarks with.
DEB_PKGS := build-essential meson ninja-build pkg-config python3 python3-yaml clang iso-codes \
	libsqlite3-dev libsodium-dev libcmocka-dev libmicrohttpd-dev libjansson-dev \
	libinih-dev libcurl4-openssl-dev libssl-dev curl jq gojq openssl wrk wamerican \
	postgresql libpq-dev libqrencode-dev oathtool libcbor-dev chromium sqlite3
# Node.js (for the OpenAPI linter) counts as present when npm runs, whoever packaged it.
NODE_PKGS := nodejs npm

.PHONY: all deps build asan test run bench fuzz clean

all: build

# Installs only what is missing, so it is quick when everything is there.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	done; command -v npm >/dev/null 2>&1 || echo $(NODE_PKGS)); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release

$(ASAN)/build.ninja:
	meson setup $(ASAN) --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

asan: deps $(ASAN)/build.ninja
	ninja -C $(ASAN)

test: build asan
	@bash tests/run.sh $(BUILD) $(ASAN)

run: build
	@bash tools/run.sh $(BUILD) $(DATA)

bench: build
	@bash bench/run.sh $(BUILD)

fuzz: deps
	@bash tests/fuzz/run.sh long

clean:
	rm -rf $(BUILD) $(ASAN) build-fuzz
