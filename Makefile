# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# edpgate: everything builds into build/.  `make V=1` shows the commands.

BUILD     ?= build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
ARCH_INC  := /usr/include/$(shell $(CC) -dumpmachine)

CFLAGS    ?= -O2 -g
# EXTRA_DEFS reach both sides of the ABI, BPF_EXTRA_CFLAGS the BPF side only
# (tests/e2e/test_upgrade.sh builds variants with them).
EXTRA_DEFS ?=
BPF_EXTRA_CFLAGS ?=
# SAN: sanitizer flags for a second build of the unit tests (make test runs
# them under ASan+UBSan from $(BUILD)/asan).
SAN ?=
CFLAGS    += -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -I$(BUILD)/bpf -Ibpf -Iloader $(EXTRA_DEFS) $(SAN)
LIBS      := -lbpf -lnftnl -lmnl -lcares -lelf -lz
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
.PHONY: all deps test unit unit-asan bpftest e2e fuzz bench demo install uninstall clean

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))

LIB_SRCS  := $(filter-out loader/main.c,$(wildcard loader/*.c))
LIB_OBJS  := $(patsubst loader/%.c,$(BUILD)/loader/%.o,$(LIB_SRCS))
LIB       := $(BUILD)/libedpgate.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(BPFT_SRCS))
TEST_HELPERS := $(filter-out $(UNIT_SRCS) $(BPFT_SRCS),$(wildcard tests/unit/*.c tests/bpf/*.c))
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(BENCH_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
# The loader sources each fuzz target links (they must stay free of libbpf).
FUZZ_LINK_fuzz_rules := loader/rules.c loader/addr.c loader/compile.c
FUZZ_LINK_fuzz_dnsmsg := loader/dnsmsg.c
FUZZ_LINK_fuzz_gateways := loader/rules.c loader/addr.c loader/state.c loader/log.c loader/json.c
FUZZ_LINK_fuzz_pcap := loader/pcapfile.c
FUZZ_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(FUZZ_SRCS))
# The unit tests again, built under ASan+UBSan (LeakSanitizer included):
# any report fails the test.
ASAN_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_UNIT_BINS := $(patsubst $(BUILD)/%,$(BUILD)/asan/%,$(UNIT_BINS))

all: $(BUILD)/edpgate $(BPF_OBJS) $(UNIT_BINS) $(BPFT_BINS) $(BENCH_BINS)

deps:
	$(Q)bash scripts/deps.sh

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(BUILD)/loader/%.o: loader/%.c $(wildcard loader/*.h) $(wildcard bpf/*.h) $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/edpgate: $(BUILD)/loader/main.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(TEST_HELPERS) $(LIB) $(wildcard tests/*/*.h) $(SKELS)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests $< $(filter $(dir $<)%,$(TEST_HELPERS)) $(LIB) $(LIBS) -lcmocka -lm -o $@

$(BUILD)/tests/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(wildcard loader/*.h)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE -Ibpf -Iloader -I$(BUILD)/bpf \
		$< $(FUZZ_LINK_$*) -o $@

unit: deps $(UNIT_BINS)
	$(Q)bash tests/run.sh unit $(UNIT_BINS)

unit-asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN="$(ASAN_SAN)" $(ASAN_UNIT_BINS)
	$(Q)bash tests/run.sh unit-asan $(ASAN_UNIT_BINS)

bpftest: deps $(BPFT_BINS)
	$(Q)bash tests/run.sh bpf $(BPFT_BINS) $(wildcard tests/bpf/test_*.sh)

e2e: deps $(BUILD)/edpgate $(BPF_OBJS) $(BENCH_BINS)
	$(Q)bash tests/run.sh e2e $(sort $(wildcard tests/e2e/test_*.sh))

# The long run: FUZZ_TIME seconds of mutation per target.
# And the differential test of the XDP program against the reference
# model (tests/bpf/test_model.c) over MODEL_FRAMES frames.
FUZZ_TIME ?= 300
MODEL_FRAMES ?= 2000000
fuzz: deps $(FUZZ_BINS) $(BPFT_BINS)
	$(Q)FUZZ_TIME=$(FUZZ_TIME) bash tests/run.sh fuzz $(FUZZ_BINS)
	$(Q)$(BUILD)/tests/bpf/test_model --frames $(MODEL_FRAMES) --seed random

# One entry point: install what is missing, build, run every suite.  A
# skipped test fails it (tests/run.sh, tests/skip-allowlist); every suite
# runs even when one fails, and the last line totals them all.
test: export EDPG_STRICT_SKIPS := 1
test: deps
	$(Q)$(MAKE) --no-print-directory all $(FUZZ_BINS)
	$(Q)bash tests/run.sh reset
	$(Q)bash tests/run.sh unit $(UNIT_BINS) || true
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN="$(ASAN_SAN)" $(ASAN_UNIT_BINS)
	$(Q)bash tests/run.sh unit-asan $(ASAN_UNIT_BINS) || true
	$(Q)bash tests/run.sh bpf $(BPFT_BINS) $(wildcard tests/bpf/test_*.sh) || true
	$(Q)FUZZ_TIME=15 bash tests/run.sh fuzz $(FUZZ_BINS) || true
	$(Q)bash tests/run.sh e2e $(sort $(wildcard tests/e2e/test_*.sh)) || true
	$(Q)bash tests/run.sh summary

bench: deps
	$(Q)$(MAKE) --no-print-directory all
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
	install -D -m 0644 loader/edpgate.8 $(DESTDIR)$(MANDIR)/man8/edpgate.8
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

# Removes what install added, except the configuration in $(SYSCONFDIR)/edpgate.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/edpgate $(DESTDIR)$(MANDIR)/man8/edpgate.8 \
		$(DESTDIR)$(COMPDIR)/edpgate $(DESTDIR)$(UNITDIR)/edpgate.service \
		$(DESTDIR)$(SYSCONFDIR)/edpgate/edpgate.rules.dist

clean:
	rm -rf $(BUILD)
