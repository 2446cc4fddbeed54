// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The kernel feature probes (loader/sinks/bpf_features.c) on made-up
 * kernels: libbpf's probes, uname() and the vmlinux BTF are replaced by the
 * definitions below (the executable's own symbols come before the shared
 * libraries'), so a 5.4, a 5.10, a backport and an unprivileged run can be
 * asked on any machine, qemu-user included.  Checks what `attach` refuses,
 * with the one line it prints, and the data path's clock choice.
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
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "bpf_features.h"

/* The made-up kernel. */
static struct {
	const char *release;
	int ringbuf;		/* map and helpers: 1, 0 or -errno */
	int coarse;		/* bpf_ktime_get_coarse_ns */
	int other;		/* everything else */
	int btf_xdp_link;	/* -1: no vmlinux BTF */
} k;

int uname(struct utsname *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->release, sizeof(u->release), "%s", k.release);
	return 0;
}

int libbpf_probe_bpf_prog_type(enum bpf_prog_type t, const void *opts)
{
	(void)t, (void)opts;
	return k.other;
}

int libbpf_probe_bpf_map_type(enum bpf_map_type t, const void *opts)
{
	(void)opts;
	return t == BPF_MAP_TYPE_RINGBUF ? k.ringbuf : k.other;
}

int libbpf_probe_bpf_helper(enum bpf_prog_type t, enum bpf_func_id id, const void *opts)
{
	(void)t, (void)opts;
	if (id == BPF_FUNC_ktime_get_coarse_ns)
		return k.coarse;
	if (id == BPF_FUNC_ringbuf_reserve || id == BPF_FUNC_ringbuf_submit ||
	    id == BPF_FUNC_ringbuf_discard)
		return k.ringbuf;
	return k.other;
}

static char fake_btf;

struct btf *btf__load_vmlinux_btf(void)
{
	return k.btf_xdp_link < 0 ? NULL : (struct btf *)&fake_btf;
}

__s32 btf__find_by_name_kind(const struct btf *btf, const char *name, __u32 kind)
{
	assert_ptr_equal(btf, &fake_btf);
	assert_int_equal(kind, BTF_KIND_STRUCT);
	return !strcmp(name, "bpf_xdp_link") && k.btf_xdp_link ? 42 : -ENOENT;
}

void btf__free(struct btf *btf)
{
	(void)btf;
}

/* edpg_kfeat_require() on the made-up kernel; its stderr into @msg. */
static int require(char *msg, size_t len)
{
	FILE *f = tmpfile();
	int saved = dup(2), err;
	size_t n;

	assert_non_null(f);
	edpg_kfeat_reset();
	fflush(stderr);
	dup2(fileno(f), 2);
	err = edpg_kfeat_require();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(msg, 1, len - 1, f);
	msg[n] = '\0';
	fclose(f);
	return err;
}

static void test_current_kernel(void **state)
{
	char msg[2048];

	(void)state;
	k.release = "6.1.0-18-arm64", k.ringbuf = 1, k.coarse = 1, k.other = 1, k.btf_xdp_link = 1;
	assert_int_equal(require(msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	assert_int_equal(edpg_kfeat_probe()->nmissing, 0);
	assert_true(edpg_kfeat_coarse_clock());
	assert_string_equal(edpg_kfeat_probe()->release, "6.1.0-18-arm64");
}

/* 5.10 has all but the coarse clock: loads, with bpf_ktime_get_ns. */
static void test_floor_kernel(void **state)
{
	char msg[2048];

	(void)state;
	k.release = "5.10.0-28-amd64", k.ringbuf = 1, k.coarse = 0, k.other = 1, k.btf_xdp_link = -1;
	assert_int_equal(require(msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	assert_false(edpg_kfeat_coarse_clock());
}

/* 5.4: no ring buffer, no XDP link; one line names them and the floor. */
static void test_old_kernel_refused(void **state)
{
	const struct edpg_kfeat *f;
	char msg[2048];

	(void)state;
	k.release = "5.4.0-150-generic", k.ringbuf = 0, k.coarse = 0, k.other = 1, k.btf_xdp_link = 0;
	assert_int_equal(require(msg, sizeof(msg)), -EOPNOTSUPP);
	f = edpg_kfeat_probe();
	assert_int_equal(f->nmissing, 5);	/* the map, three helpers, the link */
	assert_non_null(strstr(msg, "kernel 5.4.0-150-generic lacks the BPF ring buffer (BPF_MAP_TYPE_RINGBUF, 5.8), "));
	assert_non_null(strstr(msg, "bpf_ringbuf_reserve (5.8)"));
	assert_non_null(strstr(msg, ", XDP bpf_link attachment (BPF_LINK_CREATE with BPF_XDP, 5.9); "
			       "edpgate needs Linux 5.10 or later"));
	assert_null(strstr(msg, "coarse"));	/* optional: never a reason to refuse */
	assert_non_null(strchr(msg, '\n'));
	assert_ptr_equal(strchr(msg, '\n'), msg + strlen(msg) - 1);	/* one line */
}

/* An older release with the XDP link backported: its BTF says so. */
static void test_backported_link(void **state)
{
	char msg[2048];

	(void)state;
	k.release = "4.18.0-553.el8.x86_64", k.ringbuf = 1, k.coarse = 0, k.other = 1, k.btf_xdp_link = 1;
	assert_int_equal(require(msg, sizeof(msg)), 0);
	k.btf_xdp_link = 0;
	assert_int_equal(require(msg, sizeof(msg)), -EOPNOTSUPP);
	assert_non_null(strstr(msg, "lacks XDP bpf_link attachment"));
}

/* Without CAP_BPF the probes cannot run: nothing is called missing (the
 * load reports the real cause), the clock falls back to the one every
 * kernel has, and the error is kept for doctor. */
static void test_unprivileged(void **state)
{
	char msg[2048];

	(void)state;
	k.release = "6.1.0", k.ringbuf = -EPERM, k.coarse = -EPERM, k.other = -EPERM, k.btf_xdp_link = 1;
	assert_int_equal(require(msg, sizeof(msg)), 0);
	assert_int_equal(edpg_kfeat_probe()->err, -EPERM);
	assert_false(edpg_kfeat_coarse_clock());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_current_kernel),
		cmocka_unit_test(test_floor_kernel),
		cmocka_unit_test(test_old_kernel_refused),
		cmocka_unit_test(test_backported_link),
		cmocka_unit_test(test_unprivileged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
