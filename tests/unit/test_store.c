// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The store layer's pure parts: the `store` lines of edpgate.conf, the
 * gateways pointer and base64 (loader/store/). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "etcd.h"
#include "site.h"
#include "storeconf.h"

static void test_conf_ok(void **state)
{
	struct edpg_store_conf c = {};

	(void)state;
	assert_int_equal(edpg_store_conf_parse(&c, "t.conf",
		"# fleet\n"
		"interface lan0\n"
		"store etcd https://e1:2379,https://e2:2379/ prefix /edpgate site plant-7  # the site\n"
		"  store user router-7 password-file /etc/edpgate/etcd.pw\n"
		"store ca /etc/edpgate/ca.pem cert /etc/edpgate/r.pem key /etc/edpgate/r.key\n"), 0);
	assert_int_equal(edpg_store_conf_finish(&c, "t.conf"), 0);
	assert_true(c.configured);
	assert_int_equal(c.nurls, 2);
	assert_string_equal(c.urls[0], "https://e1:2379");
	assert_string_equal(c.urls[1], "https://e2:2379");
	assert_string_equal(c.prefix, "/edpgate");
	assert_string_equal(c.site, "plant-7");
	assert_string_equal(c.user, "router-7");
	assert_string_equal(c.password_file, "/etc/edpgate/etcd.pw");
	assert_string_equal(c.ca, "/etc/edpgate/ca.pem");
	assert_string_equal(c.cert, "/etc/edpgate/r.pem");
	assert_string_equal(c.key, "/etc/edpgate/r.key");
	assert_true(c.router[0] != '\0');	/* the host name by default */
}

static void test_conf_none(void **state)
{
	struct edpg_store_conf c = {};

	(void)state;
	assert_int_equal(edpg_store_conf_parse(&c, "t.conf", "# nothing\nstorex a b\n"), 0);
	assert_int_equal(edpg_store_conf_finish(&c, "t.conf"), 0);
	assert_false(c.configured);
}

static void test_conf_errors(void **state)
{
	static const char *const bad[] = {
		"store etcd ftp://e1:2379 prefix /p site s\n",
		"store etcd http://e1:2379 prefix p site s\n",		/* not absolute */
		"store etcd http://e1:2379 prefix /p/ site s\n",	/* trailing '/' */
		"store etcd http://e1:2379 prefix /p site a/b\n",	/* '/' in a key segment */
		"store etcd http://e1:2379 prefix /p site\n",		/* no value */
		"store etcd http://e1:2379 prefix /p site s colour blue\n",
		"store etcd http://e1:2379 prefix /p site s password-file rel/pw\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct edpg_store_conf c = {};

		assert_int_equal(edpg_store_conf_parse(&c, "t.conf", bad[i]), -EINVAL);
	}
}

static void test_conf_incomplete(void **state)
{
	struct edpg_store_conf c = {};

	(void)state;
	assert_int_equal(edpg_store_conf_parse(&c, "t.conf", "store etcd http://e:2379 site s\n"), 0);
	assert_int_equal(edpg_store_conf_finish(&c, "t.conf"), -EINVAL);	/* no prefix */
	memset(&c, 0, sizeof(c));
	assert_int_equal(edpg_store_conf_parse(&c, "t.conf",
		"store etcd http://e:2379 prefix /p site s cert /c.pem\n"), 0);
	assert_int_equal(edpg_store_conf_finish(&c, "t.conf"), -EINVAL);	/* cert without key */
}

static void test_keys(void **state)
{
	struct edpg_store_conf c = { .prefix = "/edpgate", .site = "plant-7" };
	char k[64];

	(void)state;
	assert_int_equal(edpg_site_key(k, sizeof(k), &c, c.site, "gateways"), 0);
	assert_string_equal(k, "/edpgate/sites/plant-7/gateways");
	assert_int_equal(edpg_site_key(k, sizeof(k), &c, NULL, "fleet/rules"), 0);
	assert_string_equal(k, "/edpgate/fleet/rules");
	assert_int_equal(edpg_site_key(k, 10, &c, c.site, "gateways"), -ENAMETOOLONG);
}

static void test_pointer(void **state)
{
	const char text[] = "gateway 00:40:9d:00:00:01\n";
	char buf[256], gen[40];
	size_t n, len;
	uint64_t sum;

	(void)state;
	assert_int_equal(edpg_site_ptr_format(buf, sizeof(buf), "6b12-1f-2e", 1, sizeof(text) - 1,
					      edpg_site_sum(text, sizeof(text) - 1)), 0);
	assert_int_equal(edpg_site_ptr_parse(buf, gen, sizeof(gen), &n, &len, &sum), 0);
	assert_string_equal(gen, "6b12-1f-2e");
	assert_int_equal(n, 1);
	assert_int_equal(len, sizeof(text) - 1);
	assert_true(sum == edpg_site_sum(text, sizeof(text) - 1));
	/* One byte changes the sum. */
	assert_true(sum != edpg_site_sum("gateway 00:40:9d:00:00:02\n", sizeof(text) - 1));
	/* A chunk count that does not fit the length, another magic, junk. */
	assert_int_equal(edpg_site_ptr_parse("edpgate-gateways 1 ab 2 10 00ff\n", gen, sizeof(gen),
					     &n, &len, &sum), -EPROTO);
	assert_int_equal(edpg_site_ptr_parse("edpgate-gateways 2 ab 1 10 00ff\n", gen, sizeof(gen),
					     &n, &len, &sum), -EPROTO);
	assert_int_equal(edpg_site_ptr_parse("edpgate-gateways 1 ab 1 10 00ff x\n", gen, sizeof(gen),
					     &n, &len, &sum), -EPROTO);
	/* 10,000 gateways (~700 KB) fit in a few chunks. */
	assert_int_equal(edpg_site_ptr_format(buf, sizeof(buf), "ab", 3, 700000, 1), 0);
	assert_int_equal(edpg_site_ptr_parse(buf, gen, sizeof(gen), &n, &len, &sum), 0);
}

static void test_base64(void **state)
{
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "/edpgate/sites/a", "L2VkcGdhdGUvc2l0ZXMvYQ==" },
	};
	char *s, *d;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		s = edpg_b64_encode(v[i][0], strlen(v[i][0]));
		assert_string_equal(s, v[i][1]);
		assert_int_equal(edpg_b64_decode(s, &d, &n), 0);
		assert_int_equal(n, strlen(v[i][0]));
		assert_memory_equal(d, v[i][0], n);
		free(s);
		free(d);
	}
	assert_int_equal(edpg_b64_decode("Zm9", &d, &n), -EINVAL);
	assert_int_equal(edpg_b64_decode("Zm=v", &d, &n), -EINVAL);
	assert_int_equal(edpg_b64_decode("Zg==Zg==", &d, &n), -EINVAL);
	assert_int_equal(edpg_b64_decode("Z!==", &d, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_ok),
		cmocka_unit_test(test_conf_none),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_conf_incomplete),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_pointer),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
