# ringcap build. `make` builds build/ringcap; `make test` builds and runs the whole suite;
# `make SANITIZE=1` builds with ASan+UBSan into build-san/; `make WERROR=1` turns warnings into errors.

CC       ?= cc
PKGS     := libpcap jansson libcrypto sqlite3
# opened with dlopen() when first needed (src/libload.h): headers here, no link
LAZY     := libmicrohttpd libcurl
soname    = $(shell objdump -p $(shell pkg-config --variable=libdir $(1))/$(2).so 2>/dev/null | \
              awk '$$1 == "SONAME" {print $$2}')
CURL_SONAME := $(call soname,libcurl,libcurl)
MHD_SONAME  := $(call soname,libmicrohttpd,libmicrohttpd)
SANITIZE ?= 0
WERROR   ?= 0

ifeq ($(SANITIZE),1)
BUILD    ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      := -O1
else
BUILD    ?= build
SANFLAGS :=
OPT      := -O2
endif

WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
        -Wpointer-arith -Wvla -Wundef -Wcast-align -Wwrite-strings -Wnull-dereference
ifeq ($(WERROR),1)
WARN += -Werror
endif

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CPPFLAGS += -D_GNU_SOURCE -DRINGCAP_VERSION='"$(VERSION)"' -Isrc
CPPFLAGS += $(if $(CURL_SONAME),-DRINGCAP_CURL_SONAME='"$(CURL_SONAME)"')
CPPFLAGS += $(if $(MHD_SONAME),-DRINGCAP_MHD_SONAME='"$(MHD_SONAME)"')
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 -pthread $(WARN) $(SANFLAGS) $(shell pkg-config --cflags $(PKGS) $(LAZY))
LDFLAGS  += $(SANFLAGS)
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lm -pthread

SRCS      := $(wildcard src/*.c src/*/*.c)
HDRS      := $(wildcard src/*/*.h)
LIB_OBJS  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(filter-out src/main.c,$(SRCS)))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))
FUZZ_SRCS := $(filter-out fuzz/replay.c,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

.PHONY: all test unit clean format check-banned check-layers fuzz-libfuzzer man conf install deb

all: $(BUILD)/ringcap $(UNIT_BINS) $(TOOL_BINS) $(FUZZ_BINS)

$(BUILD)/ringcap: $(BUILD)/obj/main.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c $(HDRS) Makefile VERSION
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# webui.c embeds the console's files with .incbin: rebuild it when they change
$(BUILD)/obj/api/webui.o build-fuzz/obj/api/webui.o: $(wildcard web/*)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testhelp.h $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# Fuzz harnesses: each defines LLVMFuzzerTestOneInput; fuzz/replay.c supplies a main() that
# feeds every file of a corpus directory to it, so `make test` replays without libFuzzer.
$(BUILD)/fuzz/%: fuzz/%.c fuzz/replay.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< fuzz/replay.c $(LIB_OBJS) $(LDLIBS)

# Coverage-guided fuzzing with clang's libFuzzer: make fuzz-libfuzzer, then
# build-fuzz/fuzz_decode fuzz/corpus/decode
fuzz-libfuzzer:
	$(MAKE) BUILD=build-fuzz CC=clang SANFLAGS='-fsanitize=fuzzer-no-link,address,undefined' \
	  $(patsubst src/%.c,build-fuzz/obj/%.o,$(filter-out src/main.c,$(SRCS)))
	@mkdir -p build-fuzz
	for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  clang $(CPPFLAGS) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined $$(pkg-config --cflags $(PKGS)) \
	    -o build-fuzz/$$n $$f $(patsubst src/%.c,build-fuzz/obj/%.o,$(filter-out src/main.c,$(SRCS))) $(LDLIBS) || exit 1; done

test: all
	@BUILD=$(BUILD) tests/run.sh

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do $$t; done

format:
	clang-format -i $(SRCS) $(HDRS) tests/unit/*.c tests/unit/*.h fuzz/*.c tests/tools/*.c

# Banned calls (curl's checksrc idea): unbounded string functions and atoi.
check-banned:
	@! grep -nE '\<(sprintf|vsprintf|strcpy|strcat|atoi|atol|gets)[[:space:]]*\(' src/*.c src/*/*.c src/*/*.h \
	  || { echo "banned call above" >&2; exit 1; }

clean:
	rm -rf build build-san build-fuzz build-deb dist

# ---- installing and packaging (README "Deploying") ----
PREFIX  ?= /usr/local
DESTDIR ?=
SYSTEMD_UNITDIR ?= /lib/systemd/system

# man pages and the packaged config file, generated from the binary's --help (never drift)
man: $(BUILD)/ringcap
	scripts/mkman.sh $(BUILD)/ringcap $(BUILD)/man
conf: $(BUILD)/ringcap
	scripts/mkconf.sh $(BUILD)/ringcap >$(BUILD)/ringcap.conf

install: $(BUILD)/ringcap man conf
	install -D -m 0755 $(BUILD)/ringcap $(DESTDIR)$(PREFIX)/bin/ringcap
	install -d $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 $(BUILD)/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -D -m 0644 $(BUILD)/ringcap.conf $(DESTDIR)/etc/ringcap/ringcap.conf
	install -D -m 0644 contrib/systemd/ringcap@.service $(DESTDIR)$(SYSTEMD_UNITDIR)/ringcap@.service
	install -D -m 0644 contrib/systemd/ringcap-serve@.service $(DESTDIR)$(SYSTEMD_UNITDIR)/ringcap-serve@.service
	install -D -m 0644 contrib/bash-completion/ringcap $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ringcap

# dist/ringcap_VERSION_ARCH.deb (debhelper; debian/)
deb:
	dpkg-buildpackage -us -uc -b -j2
	mkdir -p dist
	mv ../ringcap_$(VERSION)-*_*.deb dist/
	rm -f ../ringcap_$(VERSION)-*.buildinfo ../ringcap_$(VERSION)-*.changes ../ringcap-dbgsym_$(VERSION)-*.deb

# Which layer may include which (README "Source code layout"); tests/layers.sh also plants violations.
check-layers:
	@scripts/check-layers.sh src
