# ccroute -- plain GNU Makefile.
#
#   make            build the daemon, the client library, ccload, the tests
#   make run        install what is missing, build, start the demo
#   make test       build and run the whole test suite
#   make test-san   the suite under AddressSanitizer + UBSan (build-san/)
#   make bench      run the benchmark suite, write bench/results/*.json
#   make fuzz       build the libFuzzer harnesses with clang, run each one
#                   FUZZ_SECONDS (tests/fuzz/README.md)
#   make deps       install the Debian packages the build needs
#
# Layout of the build: everything goes to $(B) (build/ or build-san/).
# Generated protobuf-c code lands in $(B)/gen and is never committed.
#
# Conventions that let new files build without touching this file:
#   engine/*.c       -> libccengine.a (engine/main.c is ccrouted's main)
#   proto/*.c        -> libccproto.a  (codec + client library)
#   bench/*.c        -> libccbench.a, except the programs listed in
#                       BENCH_PROGS (one .c with main each)
#   tests/test-*.c   -> one test program each (cmocka)
#   tests/*.c others -> libcctest.a (harness, reference router)
#   tools/*.c        -> one operator tool each (one .c with main each)

SAN ?= 0
ifeq ($(SAN),1)
B ?= build-san
else
B ?= build
endif

CC ?= cc

# Goals that settle prerequisites first and then build in a fresh $(MAKE):
# they must not need pkg-config while this file is parsed, because the
# packages may not be installed yet (redis's .make-prerequisites idea).
OUTER_GOALS := deps run test test-san check bench fuzz clean distclean
ifeq ($(MAKECMDGOALS),)
NEED_PKGS := 1
else ifneq ($(filter-out $(OUTER_GOALS),$(MAKECMDGOALS)),)
NEED_PKGS := 1
endif

# pkg-config module -> the Debian package that provides it.
PKGS := libuv hiredis libprotobuf-c yaml-0.1 libssl libcrypto libh2o jansson icu-i18n cmocka
pkg_deb_libuv := libuv1-dev
pkg_deb_hiredis := libhiredis-dev
pkg_deb_libprotobuf-c := libprotobuf-c-dev
pkg_deb_yaml-0.1 := libyaml-dev
pkg_deb_libssl := libssl-dev
pkg_deb_libcrypto := libssl-dev
pkg_deb_libh2o := libh2o-dev
pkg_deb_jansson := libjansson-dev
pkg_deb_icu-i18n := libicu-dev
pkg_deb_cmocka := libcmocka-dev

ifdef NEED_PKGS
ifeq ($(shell command -v pkg-config),)
$(error ccroute: pkg-config not found (Debian package pkg-config); run `make deps` as root)
endif
$(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(p) && echo y),,\
  $(error ccroute: pkg-config cannot find $(p) (Debian package $(pkg_deb_$(p))); run `make deps` as root)))
ifeq ($(shell command -v protoc-c),)
$(error ccroute: protoc-c not found (Debian package protobuf-c-compiler); run `make deps` as root)
endif
# libh2o is H2O built on libuv (the HTTP surface runs on the engine's
# loop); libh2o-evloop, its other build, would bring a loop of its own.
PKG_CFLAGS := $(shell pkg-config --cflags libuv hiredis libprotobuf-c yaml-0.1 libssl libcrypto libh2o jansson icu-i18n)
PKG_LIBS := $(shell pkg-config --libs libuv hiredis libprotobuf-c yaml-0.1 libssl libcrypto libh2o jansson icu-i18n)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka)
HAVE_JEMALLOC := $(shell pkg-config --exists jemalloc && echo 1)
endif

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wundef -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -MMD -MP \
	-Iengine -Iproto -Ibench -Itests -I$(B)/gen $(PKG_CFLAGS)
LDLIBS := $(PKG_LIBS) -lm -lpthread

ifeq ($(SAN),1)
ALL_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -DCCROUTE_SANITIZE=1
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(HAVE_JEMALLOC),1)
# jemalloc is the allocator when present (make deps installs it);
# sanitizer builds keep ASan's own.
LDLIBS += $(shell pkg-config --libs jemalloc)
ALL_CFLAGS += -DCCROUTE_JEMALLOC=1
else ifdef NEED_PKGS
$(info ccroute: jemalloc not found (Debian package libjemalloc-dev); building with the C library's malloc)
endif

PROTO_SRC := proto/ccroute.proto
GEN_C := $(B)/gen/ccroute.pb-c.c
GEN_H := $(B)/gen/ccroute.pb-c.h

ENGINE_SRC := $(filter-out engine/main.c,$(wildcard engine/*.c))
PROTO_LIB_SRC := $(wildcard proto/*.c)
BENCH_PROGS := $(wildcard bench/ccload.c bench/bench-*.c bench/*-server.c)
BENCH_LIB_SRC := $(filter-out $(BENCH_PROGS),$(wildcard bench/*.c))
TOOL_PROGS := $(wildcard tools/*.c)
TEST_PROGS := $(wildcard tests/test-*.c)
TEST_LIB_SRC := $(filter-out $(TEST_PROGS),$(wildcard tests/*.c))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIBPROTO := $(B)/libccproto.a
LIBENGINE := $(B)/libccengine.a
LIBBENCH := $(B)/libccbench.a
LIBTEST := $(B)/libcctest.a

DAEMON := $(B)/ccrouted
BENCH_BINS := $(patsubst bench/%.c,$(B)/%,$(BENCH_PROGS))
TOOL_BINS := $(patsubst tools/%.c,$(B)/%,$(TOOL_PROGS))
TEST_BINS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_PROGS))

.PHONY: all deps run test test-san check bench clean distclean
# Objects and generated code are intermediate files of the library rules;
# keep them, so that a second `make` finds everything up to date.
.SECONDARY:
.DEFAULT_GOAL := all

all: $(DAEMON) $(BENCH_BINS) $(TOOL_BINS) $(TEST_BINS)

deps:
	@./deploy/deps.sh

$(GEN_C) $(GEN_H): $(PROTO_SRC)
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -Iproto $(PROTO_SRC)

# The wallboard's files (engine/www/, docs/http.md) as C arrays for
# engine/wallboard.c: xxd -i names each array after its file
# (wallboard.css -> wallboard_css[]). The files themselves have no build
# step; what is in engine/www/ is what a browser gets.
WWW_FILES := $(sort $(wildcard engine/www/*))
$(B)/gen/www.h: $(WWW_FILES)
	@mkdir -p $(B)/gen
	(cd engine/www && for f in $(notdir $(WWW_FILES)); do \
		xxd -i "$$f" || exit 1; done) > $@.raw
	sed -e 's/^unsigned char/static const unsigned char/' \
		-e '/^unsigned int .*_len = /d' $@.raw > $@.tmp
	rm -f $@.raw
	mv $@.tmp $@

$(B)/obj/engine/wallboard.o: $(B)/gen/www.h

$(B)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/obj/gen/ccroute.pb-c.o: $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-error -c -o $@ $<

$(LIBPROTO): $(call obj,$(PROTO_LIB_SRC)) $(B)/obj/gen/ccroute.pb-c.o
	@rm -f $@
	ar rcs $@ $^

$(LIBENGINE): $(call obj,$(ENGINE_SRC))
	@rm -f $@
	ar rcs $@ $^

$(LIBBENCH): $(call obj,$(BENCH_LIB_SRC)) $(B)/obj/.keep
	@rm -f $@
	ar rcs $@ $(filter %.o,$^)

$(LIBTEST): $(call obj,$(TEST_LIB_SRC)) $(B)/obj/.keep
	@rm -f $@
	ar rcs $@ $(filter %.o,$^)

$(B)/obj/.keep:
	@mkdir -p $(B)/obj && touch $@

$(DAEMON): $(B)/obj/engine/main.o $(LIBENGINE) $(LIBPROTO)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BENCH_BINS): $(B)/%: $(B)/obj/bench/%.o $(LIBBENCH) $(LIBENGINE) $(LIBPROTO)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Tools may link the engine's library (ccroute's `config check` runs the
# engine's own configuration loader) and the bench library (ccsim reads
# ccload's traffic model); a static library adds only what a tool calls.
$(TOOL_BINS): $(B)/%: $(B)/obj/tools/%.o $(LIBBENCH) $(LIBENGINE) $(LIBPROTO)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(B)/obj/tests/%.o $(LIBTEST) $(LIBBENCH) $(LIBENGINE) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

# The demo: local Redis on loopback, the demo configuration, demo traffic.
run: deps
	@$(MAKE) --no-print-directory all
	@./deploy/demo.sh $(B)

# The whole suite. Tests that need Redis start their own redis-server on a
# free loopback port (tests/harness.c) and stop it; nothing else is assumed.
test: deps
	@$(MAKE) --no-print-directory all
	@./tests/check-includes.sh >/dev/null || ./tests/check-includes.sh
	@./tests/run.sh $(B)

test-san: deps
	@$(MAKE) --no-print-directory SAN=1 all
	@./tests/run.sh build-san

check: test

bench: deps
	@$(MAKE) --no-print-directory all
	@./bench/run.sh $(B)

# ---- fuzzing (tests/fuzz/README.md) ----
# `make fuzz` installs clang and libFuzzer's runtime if they are missing,
# builds tests/fuzz/fuzz-*.c in build-fuzz/ with clang, AddressSanitizer,
# UBSan and libFuzzer's coverage instrumentation (every object of the
# build, so that libFuzzer sees the engine's branches), then runs each
# harness for FUZZ_SECONDS on a scratch copy of its corpus. The inner make
# is a plain SAN=1 build with FUZZ=1 on top.
FUZZ_SECONDS ?= 60
FUZZ_CLANG_VERSION ?= 14
FUZZ_CC ?= clang-$(FUZZ_CLANG_VERSION)
FUZZ_PROGS := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_PROGS))
ifeq ($(FUZZ),1)
ALL_CFLAGS += -fsanitize=fuzzer-no-link
endif

.PHONY: fuzz fuzz-build fuzz-clean

fuzz: deps
	@FUZZ_CLANG_VERSION=$(FUZZ_CLANG_VERSION) ./deploy/deps-fuzz.sh
	@$(MAKE) --no-print-directory SAN=1 FUZZ=1 B=build-fuzz CC=$(FUZZ_CC) \
		fuzz-build
	@./tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

fuzz-build: $(FUZZ_BINS) $(B)/fuzz/seeds

$(B)/fuzz/fuzz-%: $(B)/obj/tests/fuzz/fuzz-%.o $(LIBBENCH) $(LIBENGINE) \
		$(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(B)/fuzz/seeds: $(B)/obj/tests/fuzz/seeds.o $(LIBENGINE) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

clean: fuzz-clean
fuzz-clean:
	rm -rf build-fuzz

clean:
	rm -rf build build-san

distclean: clean

ifdef NEED_PKGS
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
endif
