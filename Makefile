# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# edpgate: everything builds into build/.  `make V=1` shows the commands.

# ARCH=arm64 (or CROSS_COMPILE=aarch64-linux-gnu-) cross-builds the loader
# against Debian's multiarch libraries (scripts/deps.sh installs the :arm64
# ones) into build/arm64.  The BPF objects do not depend on ARCH: they are
# built with the build host's UAPI headers, so both builds carry the same
# bytes (scripts/cross-test.sh compares them).
HOST_ARCH := $(shell dpkg --print-architecture 2>/dev/null || uname -m)
ifneq ($(filter aarch64-%,$(CROSS_COMPILE)),)
ARCH      ?= arm64
endif
ARCH      ?= $(HOST_ARCH)
ifneq ($(ARCH),$(HOST_ARCH))
ifeq ($(ARCH),arm64)
CROSS_COMPILE ?= aarch64-linux-gnu-
endif
ifeq ($(CROSS_COMPILE),)
$(error ARCH=$(ARCH): set CROSS_COMPILE to its toolchain prefix (arm64 has a default))
endif
endif
ifneq ($(CROSS_COMPILE),)
CC        := $(CROSS_COMPILE)gcc
BUILD     ?= build/$(ARCH)
QEMU      ?= qemu-aarch64-static
else
CC        ?= gcc
BUILD     ?= build
endif
CLANG     ?= clang
BPFTOOL   ?= bpftool
AR        := $(CROSS_COMPILE)ar
ARCH_INC  := /usr/include/$(shell gcc -dumpmachine)

CFLAGS    ?= -O2 -g
# EXTRA_DEFS reach both sides of the ABI, BPF_EXTRA_CFLAGS the BPF side only
# (tests/e2e/test_upgrade.sh builds variants with them).
EXTRA_DEFS ?=
BPF_EXTRA_CFLAGS ?=
# SAN: sanitizer flags for a second build of the unit tests (make test runs
# them under ASan+UBSan from $(BUILD)/asan).
SAN ?=
# loader/ is layered in folders (see scripts/check-layers.sh); headers are
# included by name, so every folder is on the include path.
LOADER_INC := $(patsubst %/,-I%,$(sort $(dir $(wildcard loader/*/*.h))))
# -MMD -MP: each object lists the headers it read, so a header edit rebuilds
# exactly the objects that include it.
CFLAGS    += -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -I$(BUILD)/bpf -Ibpf $(LOADER_INC) $(EXTRA_DEFS) $(SAN) -MMD -MP
# libcurl is not linked: store/etcd.c loads it when a store is used.
LIBS      := -lbpf -lnftnl -lmnl -lcares -lelf -lz -ljson-c
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror -I$(ARCH_INC) -Ibpf $(EXTRA_DEFS) $(BPF_EXTRA_CFLAGS)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SUFFIXES:
.PHONY: all deps deb cross layers floor unit-bins test test-reset test-bins unit unit-asan bpftest e2e fuzz fuzz-targets bench demo install uninstall clean

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))
# The skeletons are kept: otherwise make deletes them as intermediates and a
# one-file edit regenerates (and so recompiles against) all of them.
.SECONDARY: $(SKELS)

LIB_SRCS  := $(filter-out loader/cli/main.c,$(wildcard loader/*/*.c))
LIB_OBJS  := $(patsubst loader/%.c,$(BUILD)/loader/%.o,$(LIB_SRCS))
LIB       := $(BUILD)/libedpgate.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(BPFT_SRCS))
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(BENCH_SRCS))
TEST_HELPERS := $(filter-out $(UNIT_SRCS) $(BPFT_SRCS) $(BENCH_SRCS),$(wildcard tests/unit/*.c tests/bpf/*.c tests/bench/*.c))
# A test links the helpers of its folder named after it (up to the first
# '_'): test_model takes model*.c, test_nft and test_nft_kernel nft_*.c,
# bench_datapath datapath_*.c.
helper_word = $(firstword $(subst _, ,$(basename $(notdir $(1)))))
helpers_of = $(foreach h,$(filter $(dir $(1))%,$(TEST_HELPERS)),$(if $(filter $(call helper_word,$(h))%,$(patsubst test_%,%,$(patsubst bench_%,%,$(basename $(notdir $(1)))))),$(h)))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
# The loader sources each fuzz target links (they must stay free of libbpf).
FUZZ_LINK_fuzz_rules := loader/policy/diags.c loader/policy/gateways.c loader/policy/rules.c loader/policy/addr.c loader/policy/compile.c
FUZZ_LINK_fuzz_dnsmsg := loader/names/dnsmsg.c
FUZZ_LINK_fuzz_gateways := loader/policy/diags.c loader/policy/gateways.c loader/policy/rules.c loader/policy/addr.c loader/util/state.c loader/util/log.c loader/util/json.c
FUZZ_LINK_fuzz_pcap := loader/util/pcapfile.c
FUZZ_LINK_fuzz_csv := loader/policy/csv.c loader/policy/diags.c loader/policy/gateways.c loader/policy/rules.c loader/policy/addr.c
FUZZ_LINK_fuzz_names := loader/names/names.c loader/names/expiry.c loader/names/dnsmsg.c loader/names/addrcache.c \
	loader/policy/diags.c loader/policy/gateways.c loader/policy/rules.c loader/policy/addr.c \
	loader/util/state.c loader/util/log.c loader/util/json.c
FUZZ_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(FUZZ_SRCS))
# The unit tests again, built under ASan+UBSan (LeakSanitizer included):
# any report fails the test.
ASAN_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_UNIT_BINS := $(patsubst $(BUILD)/%,$(BUILD)/asan/%,$(UNIT_BINS))

# The binary and the BPF objects; the suites build their own binaries.
all: $(BUILD)/edpgate $(BPF_OBJS)

unit-bins: $(UNIT_BINS)

test-bins: $(UNIT_BINS) $(BPFT_BINS) $(BENCH_BINS) $(FUZZ_BINS)

deps:
	$(Q)bash scripts/deps.sh

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# Objects wait for the skeletons (order only: -MMD then records which of
# them each object really includes).
$(BUILD)/loader/%.o: loader/%.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

-include $(LIB_OBJS:.o=.d) $(BUILD)/loader/cli/main.d

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/edpgate: $(BUILD)/loader/cli/main.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(TEST_HELPERS) $(LIB) $(wildcard tests/*/*.h) $(SKELS)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -Itests $< $(call helpers_of,$<) $(LIB) $(LIBS) -lcmocka -lm -o $@

$(BUILD)/tests/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(wildcard loader/*/*.h)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE -Ibpf $(LOADER_INC) -I$(BUILD)/bpf \
		$< $(FUZZ_LINK_$*) -o $@

unit: deps $(UNIT_BINS)
	$(Q)bash tests/run.sh unit $(UNIT_BINS) $(SUITE_RC)

unit-asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN="$(ASAN_SAN)" $(ASAN_UNIT_BINS)
	$(Q)bash tests/run.sh unit-asan $(ASAN_UNIT_BINS) $(SUITE_RC)

bpftest: deps $(BPFT_BINS)
	$(Q)bash tests/run.sh bpf $(BPFT_BINS) $(wildcard tests/bpf/test_*.sh) $(SUITE_RC)

e2e: deps $(BUILD)/edpgate $(BPF_OBJS) $(BENCH_BINS)
	$(Q)bash tests/run.sh e2e $(sort $(wildcard tests/e2e/test_*.sh)) $(SUITE_RC)

# Every fuzz target: its regression inputs, then FUZZ_TIME seconds of
# mutation each (make fuzz: 300, make test: 15).
FUZZ_TIME ?= 300
fuzz-targets: deps $(FUZZ_BINS)
	$(Q)FUZZ_TIME=$(FUZZ_TIME) BUILD=$(BUILD) bash tests/run.sh fuzz $(FUZZ_BINS) $(SUITE_RC)

# The long run: the fuzz targets, and the differential test of the XDP
# program against the reference model (tests/bpf/test_model.c) over
# MODEL_FRAMES frames.
MODEL_FRAMES ?= 2000000
fuzz: fuzz-targets $(BPFT_BINS)
	$(Q)$(BUILD)/tests/bpf/test_model --frames $(MODEL_FRAMES) --seed random

# The layering of loader/ (table and rules: scripts/check-layers.sh).
layers: all
	$(Q)bash scripts/check-layers.sh $(BUILD)

# The kernel floor: what each shipped BPF program needs, against the README
# (the table and its sources: docs/kernel-floor.md).
SHIPPED_BPF := $(BUILD)/bpf/edpgate.bpf.o $(BUILD)/bpf/snoop.bpf.o
floor: $(SHIPPED_BPF)
	$(Q)bash tests/run.sh floor tests/floor/test_floor.sh $(SUITE_RC)

# arm64: the cross-build, its unit tests and `edpgate check` under
# qemu-user, the BPF objects compared with the native build's.
cross: deps
	$(Q)BUILD=$(BUILD) bash tests/run.sh cross tests/cross/test_arm64.sh $(SUITE_RC)

# One entry point: install what is missing, build, run every suite, in
# this order (the suites are its prerequisites; do not run it with -j).
# A skipped test fails it (tests/run.sh, tests/skip-allowlist); every suite
# runs even when one fails (SUITE_RC), and the last line totals them all.
test: export EDPG_STRICT_SKIPS := 1
test: FUZZ_TIME = 15
test: SUITE_RC = || true
test: deps test-reset layers floor unit unit-asan cross bpftest fuzz-targets e2e
	$(Q)bash tests/run.sh summary

test-reset:
	$(Q)bash tests/run.sh reset

bench: deps all $(BENCH_BINS)
	$(Q)bash scripts/bench.sh $(BUILD)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/demo.sh $(BUILD)

# Install like any router service.  The BPF programs are skeletons inside
# the binary; nothing else is read at run time but /etc/edpgate.  An edited
# edpgate.rules is never overwritten: the shipped one then lands beside it
# as edpgate.rules.dist.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
COMPDIR    ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system

$(BUILD)/edpgate.service: scripts/edpgate.service.in
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

install: $(BUILD)/edpgate $(BUILD)/edpgate.service
	install -D -m 0755 $(BUILD)/edpgate $(DESTDIR)$(SBINDIR)/edpgate
	install -D -m 0644 docs/edpgate.8 $(DESTDIR)$(MANDIR)/man8/edpgate.8
	install -D -m 0644 docs/edpgate.rules.5 $(DESTDIR)$(MANDIR)/man5/edpgate.rules.5
	install -D -m 0644 scripts/edpgate.bash-completion $(DESTDIR)$(COMPDIR)/edpgate
	install -D -m 0644 $(BUILD)/edpgate.service $(DESTDIR)$(UNITDIR)/edpgate.service
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/edpgate
	@r=$(DESTDIR)$(SYSCONFDIR)/edpgate/edpgate.rules; \
	if [ -e "$$r" ] && ! cmp -s "$$r" rules/devicecloud.rules; then \
		install -m 0644 rules/devicecloud.rules "$$r.dist"; \
		echo "kept the edited $$r; the shipped rules are in $$r.dist"; \
	else \
		install -m 0644 rules/devicecloud.rules "$$r"; \
	fi

# The Debian package (debian/, debhelper): built from a copy of the tree's
# files (tracked and new, not ignored) under $(BUILD)/deb, where
# dpkg-buildpackage leaves edpgate_VERSION_ARCH.deb.  ARCH=arm64 builds the
# arm64 package on an amd64 host.
DEB_DIR := $(BUILD)/deb
DEB_CROSS := $(if $(filter $(HOST_ARCH),$(ARCH)),,-a$(ARCH))
deb: deps
	$(call msg,DEB,$(DEB_DIR))
	$(Q)rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	$(Q)git ls-files -z -co --exclude-standard | \
		tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C $(DEB_DIR)/src
	$(Q)cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc $(DEB_CROSS) >../build.log 2>&1 || \
		{ tail -40 ../build.log; false; }
	$(Q)ls $(DEB_DIR)/*.deb

# Removes what install added, except the configuration in $(SYSCONFDIR)/edpgate.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/edpgate $(DESTDIR)$(MANDIR)/man8/edpgate.8 \
		$(DESTDIR)$(MANDIR)/man5/edpgate.rules.5 \
		$(DESTDIR)$(COMPDIR)/edpgate $(DESTDIR)$(UNITDIR)/edpgate.service \
		$(DESTDIR)$(SYSCONFDIR)/edpgate/edpgate.rules.dist

clean:
	rm -rf $(BUILD)
