// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The data path's clock switch (coarse_clock in bpf/edpgate.bpf.c): the
 * verifier reads the frozen .rodata value and walks only the chosen call,
 * so a kernel without bpf_ktime_get_coarse_ns (before 5.11) never checks
 * it.  Shown on this kernel from the program the verifier kept (its
 * translated instructions): with the switch off no call to
 * bpf_ktime_get_coarse_ns is left, with it on no call to bpf_ktime_get_ns.  Also the
 * loader's choice (loader/sinks/bpf_features.c) on this kernel, which has
 * the coarse clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "bpf_features.h"
#include "edpgate.skel.h"

/*
 * The imm a loaded program's call to kernel function @name carries: for a
 * privileged reader the kernel gives back helper calls as the function's
 * offset from __bpf_call_base (as bpftool reads them), so /proc/kallsyms
 * names them.
 */
static int32_t call_imm(const char *name)
{
	unsigned long long addr, base = 0, fn = 0;
	char sym[256], type;
	FILE *f = fopen("/proc/kallsyms", "r");

	assert_non_null(f);
	while (fscanf(f, "%llx %c %255s%*[^\n]", &addr, &type, sym) == 3) {
		if (!strcmp(sym, "__bpf_call_base"))
			base = addr;
		else if (!strcmp(sym, name))
			fn = addr;
	}
	fclose(f);
	assert_true(base && fn);
	return (int32_t)(fn - base);
}

/* How many calls to the kernel's @name the verifier kept. */
static int helper_calls(int prog_fd, const char *name)
{
	int32_t imm = call_imm(name);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), xlen;
	struct bpf_insn *insns;
	int n = 0;

	assert_int_equal(bpf_obj_get_info_by_fd(prog_fd, &info, &len), 0);
	xlen = info.xlated_prog_len;
	assert_true(xlen > 0);
	insns = calloc(1, xlen);
	assert_non_null(insns);
	memset(&info, 0, sizeof(info));
	info.xlated_prog_len = xlen;
	info.xlated_prog_insns = (__u64)(uintptr_t)insns;
	len = sizeof(info);
	assert_int_equal(bpf_obj_get_info_by_fd(prog_fd, &info, &len), 0);
	for (size_t i = 0; i < xlen / sizeof(*insns); i++)
		if (insns[i].code == (BPF_JMP | BPF_CALL) && insns[i].src_reg == 0 && insns[i].imm == imm)
			n++;
	free(insns);
	return n;
}

static struct edpgate *load(int coarse)
{
	struct edpgate *s = edpgate__open();

	assert_non_null(s);
	s->rodata->coarse_clock = coarse;
	assert_int_equal(edpgate__load(s), 0);
	return s;
}

static void test_switch_off_keeps_no_coarse_call(void **state)
{
	struct edpgate *s = load(0);
	int fd = bpf_program__fd(s->progs.edpgate_xdp);

	(void)state;
	assert_int_equal(helper_calls(fd, "bpf_ktime_get_coarse_ns"), 0);
	assert_true(helper_calls(fd, "bpf_ktime_get_ns") > 0);
	edpgate__destroy(s);
}

static void test_switch_on_keeps_only_coarse_call(void **state)
{
	struct edpgate *s = load(1);
	int fd = bpf_program__fd(s->progs.edpgate_xdp);

	(void)state;
	assert_true(helper_calls(fd, "bpf_ktime_get_coarse_ns") > 0);
	assert_int_equal(helper_calls(fd, "bpf_ktime_get_ns"), 0);
	edpgate__destroy(s);
}

/* This kernel (>= 5.11) has everything, the coarse clock too. */
static void test_probe_here(void **state)
{
	const struct edpg_kfeat *f = edpg_kfeat_probe();

	(void)state;
	assert_int_equal(f->err, 0);
	assert_int_equal(f->nmissing, 0);
	assert_true(f->coarse_clock);
	assert_int_equal(edpg_kfeat_require(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch_off_keeps_no_coarse_call),
		cmocka_unit_test(test_switch_on_keeps_only_coarse_call),
		cmocka_unit_test(test_probe_here),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
