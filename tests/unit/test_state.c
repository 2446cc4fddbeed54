// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The interfaces file (loader/state.c): round trip, and files written
 * before it recorded the ifindex. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "state.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/edpg-state.XXXXXX", getenv("TMPDIR") ?: "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[PATH_MAX];

	(void)state;
	edpg_state_path(path, sizeof(path), dir, EDPG_STATE_INTERFACES);
	unlink(path);
	return rmdir(dir);
}

static void test_round_trip(void **state)
{
	struct edpg_ifaces in = { .n = 2 }, out;

	(void)state;
	snprintf(in.v[0].name, sizeof(in.v[0].name), "lan0");
	snprintf(in.v[0].xdp_mode, sizeof(in.v[0].xdp_mode), "native");
	snprintf(in.v[0].enforce, sizeof(in.v[0].enforce), "both");
	in.v[0].ifindex = 7;
	snprintf(in.v[1].name, sizeof(in.v[1].name), "lan0.42");
	snprintf(in.v[1].xdp_mode, sizeof(in.v[1].xdp_mode), "generic");
	snprintf(in.v[1].enforce, sizeof(in.v[1].enforce), "both");
	in.v[1].ifindex = 2147483647;
	assert_int_equal(edpg_ifaces_save(dir, &in), 0);
	assert_int_equal(edpg_ifaces_load(dir, &out), 0);
	assert_int_equal(out.n, 2);
	assert_memory_equal(&out.v[0], &in.v[0], sizeof(in.v[0]));
	assert_memory_equal(&out.v[1], &in.v[1], sizeof(in.v[1]));
}

static void test_without_ifindex(void **state)
{
	static const char old[] = "# attached by edpgate: IFNAME XDPMODE ENFORCE\n"
				  "lan0 native xdp\nlan1 none nft\nbroken\n";
	char path[PATH_MAX];
	struct edpg_ifaces out;
	FILE *f;

	(void)state;
	edpg_state_path(path, sizeof(path), dir, EDPG_STATE_INTERFACES);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(old, f);
	fclose(f);
	assert_int_equal(edpg_ifaces_load(dir, &out), 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.v[0].name, "lan0");
	assert_string_equal(out.v[0].enforce, "xdp");
	assert_int_equal(out.v[0].ifindex, 0);
	assert_string_equal(out.v[1].xdp_mode, "none");
	assert_int_equal(out.v[1].ifindex, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_ifindex, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
