# Everything a newcomer needs: `make test` and `make demo` install what is
# missing, configure, build and run. Build parallelism follows the machine.
MAKEFLAGS += --no-print-directory
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
BUILD     ?= build
ASAN      ?= build-asan
PACKAGES  := cmake g++ pkg-config libuv1-dev node-llhttp libssl-dev libgumbo-dev \
             libsqlite3-dev catch2 zlib1g-dev libbrotli-dev libidn2-dev libpsl-dev \
             libcli11-dev libtomlplusplus-dev nlohmann-json3-dev ca-certificates openssl
DEMO_PORT ?= 8731

.PHONY: all deps configure build test asan demo clean

all: build

# Installs the Debian packages that are not installed yet (needs root or sudo).
deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBCRAWL_SANITIZE=ON
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# Serves seeds/demo-site on loopback, crawls it into demo.db and queries it.
demo: build
	@bash seeds/demo.sh $(BUILD) $(DEMO_PORT)

clean:
	rm -rf $(BUILD) $(ASAN)
