// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Validators of names and paths from the command line, and the names of
 * capability sets in messages (loader/privilege.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "privilege.h"

static void test_ifname(void **state)
{
	static const char *const good[] = { "lan0", "eth0.10", "br-lan", "a", "x23456789012345" };
	static const char *const bad[] = { "", "x234567890123456", "a/b", "a b", "a\tb", "a:1", ".",
					   "..", "a\nb" };
	const char *why = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(edpg_valid_ifname(good[i], &why), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(edpg_valid_ifname(bad[i], &why), -EINVAL);
		assert_non_null(why);
	}
	edpg_valid_ifname("x234567890123456", &why);
	assert_string_equal(why, "it is longer than 15 characters");
}

static void test_abs_path(void **state)
{
	static const char *const good[] = { "/", "/var/lib/edpgate", "/sys/fs/bpf/edpgate",
					     "/a/..b/c", "/a/b..", "/a/.../b" };
	static const char *const bad[] = { "", "var/lib", "./x", "/a/../b", "/a/..", "/a\nb" };
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(edpg_valid_abs_path(good[i], &why), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(edpg_valid_abs_path(bad[i], &why), -EINVAL);
	edpg_valid_abs_path("var/lib", &why);
	assert_string_equal(why, "it must be an absolute path");
	edpg_valid_abs_path("/a/../b", &why);
	assert_string_equal(why, "it contains a '..' component");
}

static void test_cap_names(void **state)
{
	char buf[128];

	(void)state;
	assert_string_equal(edpg_caps_names(EDPG_NEED_WRITE, buf, sizeof(buf)),
			    "CAP_BPF and CAP_NET_ADMIN");
	assert_string_equal(edpg_caps_names(EDPG_NEED_READ, buf, sizeof(buf)), "CAP_BPF");
	assert_string_equal(edpg_caps_names(EDPG_RUN_CAPS, buf, sizeof(buf)),
			    "CAP_BPF and CAP_NET_ADMIN");
	assert_string_equal(edpg_caps_names(EDPG_CAP(CAP_PERFMON) | EDPG_NEED_WRITE, buf, sizeof(buf)),
			    "CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON");
	assert_string_equal(edpg_caps_names(EDPG_CAP(CAP_CHOWN) | EDPG_CAP(CAP_BPF), buf, sizeof(buf)),
			    "CAP_BPF and cap_0");
	assert_string_equal(edpg_caps_names(0, buf, sizeof(buf)), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ifname),
		cmocka_unit_test(test_abs_path),
		cmocka_unit_test(test_cap_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
