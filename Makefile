# Everything a newcomer needs: `make test` and `make demo` install what is
# missing, configure, build and run. Build parallelism follows the machine.
MAKEFLAGS += --no-print-directory
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
BUILD     ?= build
ASAN      ?= build-asan
PACKAGES  := cmake g++ pkg-config libuv1-dev node-llhttp libssl-dev libgumbo-dev \
             libsqlite3-dev catch2 zlib1g-dev libbrotli-dev libidn2-dev libpsl-dev \
             libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libexpat1-dev libre2-dev \
             libdeflate-dev ca-certificates openssl libjs-chart.js
# What only the tests use: headless Chromium opens `webcrawl report`'s page,
# promtool (Debian prometheus) checks what --metrics serves.
TEST_PACKAGES := chromium prometheus
BENCH_PACKAGES := python3.11-doc time python3
DEMO_PORT ?= 8731

.PHONY: all deps configure build test asan demo bench-docs clean

all: build

# Installs those of the Debian packages $(1) that are not installed yet
# (needs root or sudo).
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_missing,$(PACKAGES))

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	$(call install_missing,$(TEST_PACKAGES))
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: deps
	$(call install_missing,$(TEST_PACKAGES))
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBCRAWL_SANITIZE=ON
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# Serves seeds/demo-site on loopback, crawls it into demo.db and queries it.
demo: build
	@bash seeds/demo.sh $(BUILD) $(DEMO_PORT)

# Crawls Debian's Python 3.11 documentation on loopback twice and prints
# throughput, peak memory and consistency checks.
bench-docs: build
	$(call install_missing,$(BENCH_PACKAGES))
	@bash bench/docs_crawl.sh $(BUILD)

# Memory on real pages (issue 11): crawls Debian's Java 17 API docs (10,137
# pages, some 3-6 MB) on loopback with nginx; prints pages stored against
# pages reachable, pages/s, peak RSS and duplicate requests. See bench/javadoc.sh.
JAVADOC_PACKAGES := openjdk-17-doc nginx time python3
.PHONY: bench-javadoc
bench-javadoc: build
	$(call install_missing,$(JAVADOC_PACKAGES))
	@bash bench/javadoc.sh $(BUILD)

# libFuzzer with ASan and UBSan on the parser surfaces (clang, in $(FUZZ)/):
# runs each target FUZZ_SECONDS on tests/fuzz/corpus/<target>/ and merges new
# coverage back into it. Fails when a target finds anything.
FUZZ          ?= build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_TARGETS  := fuzz_url fuzz_robots fuzz_http_response fuzz_extract fuzz_sitemap fuzz_cookies
FUZZ_PACKAGES := clang libclang-rt-14-dev

.PHONY: fuzz
fuzz: deps
	$(call install_missing,$(FUZZ_PACKAGES))
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Debug -DWEBCRAWL_FUZZ=ON
	cmake --build $(FUZZ) -j $(JOBS) --target fuzz_targets
	@bash tests/fuzz/run.sh $(FUZZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)

# Throughput against the no-network ceiling (issue 6): generates a 20,000-page
# site on 200 loopback hosts, serves it with nginx, crawls it and prints
# pages/s, the ceiling, their ratio, CPU ms per page and peak RSS. See bench/run.sh.
BENCH_NGINX_PACKAGES := nginx time
.PHONY: bench bench-quick bench-programs
bench-programs: build
	$(call install_missing,$(BENCH_NGINX_PACKAGES))
	cmake --build $(BUILD) -j $(JOBS) --target bench_gen_site bench_ceiling
bench: bench-programs
	@bash bench/run.sh $(BUILD) 20000
bench-quick: bench-programs
	@bash bench/run.sh $(BUILD) 2000

# Frontier memory (issue 4): 1,000,000 queued URLs over 10,000 hosts, crawled
# for 60,000 pages against closed loopback ports; prints peak RSS and growth.
# The report (issue 16): times `webcrawl report` on a generated database of
# 1,000,000 pages (1,000 hosts, 20 links each; see bench/make_report_db.cpp),
# and on bench/out/crawl.db when `make bench` left one. See bench/report.sh.
.PHONY: bench-report
bench-report: build
	$(call install_missing,time)
	cmake --build $(BUILD) -j $(JOBS) --target bench_make_report_db
	@bash bench/report.sh $(BUILD)

.PHONY: bench-memory
bench-memory: build
	cmake --build $(BUILD) -j $(JOBS) --target bench_make_frontier
	@bash bench/frontier_memory.sh $(BUILD)

# Politeness (issue 3): crawls the 2,000-page site of `make bench-quick` twice,
# once where H/d binds (delay 2 s, concurrency 64) and once where C/L does
# (concurrency 8, nginx answering 0.1 s late through its echo module); prints
# warm pages/s against min(H/d, C/L), the smallest per-host gap and the most
# requests in flight per host and in all. See bench/politeness.sh.
BENCH_POLITENESS_PACKAGES := nginx time libnginx-mod-http-echo
.PHONY: bench-politeness
bench-politeness: build
	$(call install_missing,$(BENCH_POLITENESS_PACKAGES))
	cmake --build $(BUILD) -j $(JOBS) --target bench_gen_site
	@bash bench/politeness.sh $(BUILD)

# Start-up and shutdown (issue 6): crawls seeds/demo-site 10 times and prints
# the time from exec to the first request and from the last response to exit.
# See bench/startup.sh.
.PHONY: bench-startup
bench-startup: build
	@bash bench/startup.sh $(BUILD)

# Politeness at scale (issue 6): 1,000 loopback hosts with 10 pages each and
# d = 4 s, so H/d = 250 pages/s; the target is 0.95 of that. H/d binds only.
.PHONY: bench-politeness-1000
bench-politeness-1000: build
	$(call install_missing,$(BENCH_POLITENESS_PACKAGES))
	cmake --build $(BUILD) -j $(JOBS) --target bench_gen_site
	@BENCH_HOSTS=1000 BENCH_LATENCY=0 bash bench/politeness.sh $(BUILD) 10000 4 64
