// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_resolver.c - the c-ares resolver against a real dnsmasq started on
 * 127.0.0.1 and a free high port: addresses, TTLs, CNAME chasing, per-name
 * errors; then against a port where nothing listens and a socket that
 * swallows queries, which must give clean per-name errors within the
 * deadline, all names at once.  Exits 77 when dnsmasq is not installed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "resolver.h"

static char dnsmasq_bin[256];
static pid_t watchdog_pid;
static int watch_fd = -1;
static int dns_port;
static char pidfile[64];

static bool find_dnsmasq(void)
{
	const char *path = getenv("PATH");
	char buf[1024];

	/* root's PATH has sbin, a user's may not: look there as well. */
	snprintf(buf, sizeof(buf), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(dnsmasq_bin, sizeof(dnsmasq_bin), "%s/dnsmasq", d);
		if (!access(dnsmasq_bin, X_OK))
			return true;
	}
	return false;
}

/* A port free for both UDP and TCP on 127.0.0.1 (dnsmasq binds both). */
static int free_port(void)
{
	for (int tries = 0; tries < 20; tries++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sa);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), port = -1;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (u >= 0 && t >= 0 && !bind(u, (struct sockaddr *)&sa, sizeof(sa)) &&
		    !getsockname(u, (struct sockaddr *)&sa, &sl) &&
		    !bind(t, (struct sockaddr *)&sa, sizeof(sa)))
			port = ntohs(sa.sin_port);
		close(u);
		close(t);
		if (port > 0)
			return port;
	}
	return -1;
}

/*
 * dnsmasq runs under a small watchdog process of ours that holds the read
 * end of a pipe: when the write end closes (we are done, failed, or were
 * killed outright) it kills dnsmasq by PID and reaps it.  PR_SET_PDEATHSIG
 * is not enough: dnsmasq's privilege handling clears it.
 */
static void stop_dnsmasq(void)
{
	if (watch_fd >= 0) {
		close(watch_fd);
		watch_fd = -1;
	}
	if (watchdog_pid > 0) {
		waitpid(watchdog_pid, NULL, 0);
		watchdog_pid = 0;
	}
	if (pidfile[0])
		unlink(pidfile);
}

static void on_signal(int sig)
{
	stop_dnsmasq();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void watchdog(int rd, const char *const *argv)
{
	pid_t pid = fork();
	char c;

	if (pid < 0)
		_exit(1);
	if (!pid) {
		close(rd);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (read(rd, &c, 1) < 0 && errno == EINTR)
		;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	_exit(0);
}

static int start_dnsmasq(void **state)
{
	char port[32], pf[96];
	const char *argv[] = {
		dnsmasq_bin, "-k", "--no-resolv", "--no-hosts", port, "--listen-address=127.0.0.1",
		"--bind-interfaces", pf, "--log-facility=/dev/null",
		"--host-record=login.etherios.com,192.0.2.10,2001:db8::10,600",
		"--host-record=v4only.example,192.0.2.20,90",
		"--host-record=0.idigi.pool.ntp.org,198.51.100.7,2001:db8::7,150",
		/* The chain's TTL is its weakest link: 30 < 150. */
		"--cname=time.etherios.co.uk,0.idigi.pool.ntp.org,30",
		"--cname=time.etherios.com,time.etherios.co.uk,900",
		"--host-record=my.idigi.com,203.0.113.1,120",
		"--host-record=my.idigi.com,203.0.113.2,60",
		"--local=/etherios.com/",
		NULL,
	};
	pid_t pid;
	int p[2];

	(void)state;
	dns_port = free_port();
	if (dns_port < 0)
		return -1;
	snprintf(port, sizeof(port), "--port=%d", dns_port);
	snprintf(pidfile, sizeof(pidfile), "/tmp/edpg-test-resolver-%d.pid", (int)getpid());
	snprintf(pf, sizeof(pf), "--pid-file=%s", pidfile);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	atexit(stop_dnsmasq);
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (!pid) {
		close(p[1]);
		watchdog(p[0], argv);
	}
	close(p[0]);
	watch_fd = p[1];
	watchdog_pid = pid;

	/* Ready when it answers. */
	for (int i = 0; i < 50; i++) {
		char srv[32];
		const char *servers[] = { srv }, *names[] = { "login.etherios.com" };
		struct edpg_name_result res;
		struct edpg_resolver *r;
		int st = -1;

		snprintf(srv, sizeof(srv), "127.0.0.1:%d", dns_port);
		if (!edpg_resolver_new(&r, servers, 1, 200)) {
			if (!edpg_resolver_resolve(r, names, 1, &res)) {
				st = res.status;
				edpg_name_results_free(&res, 1);
			}
			edpg_resolver_free(r);
		}
		if (!st)
			return 0;
		usleep(100 * 1000);
	}
	fprintf(stderr, "dnsmasq did not answer\n");
	stop_dnsmasq();
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	stop_dnsmasq();
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct edpg_resolver *live(int timeout_ms)
{
	char srv[32];
	const char *servers[] = { srv };
	struct edpg_resolver *r;

	snprintf(srv, sizeof(srv), "127.0.0.1:%d", dns_port);
	assert_int_equal(edpg_resolver_new(&r, servers, 1, timeout_ms), 0);
	return r;
}

/* @res has exactly the @n given ("addr", ttl) answers, in any order. */
static void check_answers(const struct edpg_name_result *res, size_t n, ...)
{
	va_list ap;

	assert_int_equal(res->status, 0);
	assert_int_equal(res->nanswers, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		const char *text = va_arg(ap, const char *);
		unsigned int ttl = va_arg(ap, unsigned int);
		int fam = strchr(text, ':') ? AF_INET6 : AF_INET;
		uint8_t want[16] = { 0 };
		bool found = false;

		assert_int_equal(inet_pton(fam, text, want), 1);
		for (size_t k = 0; k < res->nanswers; k++) {
			const struct edpg_answer *a = &res->answers[k];

			if (a->addr.family == fam && !memcmp(a->addr.addr, want, 16)) {
				assert_int_equal(a->addr.plen, fam == AF_INET ? 32 : 128);
				assert_int_equal(a->ttl, ttl);
				found = true;
			}
		}
		if (!found)
			fail_msg("%s: %s missing", res->name, text);
	}
	va_end(ap);
}

static void test_resolve(void **state)
{
	const char *names[] = {
		"login.etherios.com", "time.etherios.co.uk", "time.etherios.com", "my.idigi.com",
		"v4only.example", "nosuch.etherios.com", "LOGIN.Etherios.COM", "",
	};
	const size_t n = sizeof(names) / sizeof(names[0]);
	struct edpg_name_result res[sizeof(names) / sizeof(names[0])];
	struct edpg_resolver *r = live(2000);

	(void)state;
	assert_int_equal(edpg_resolver_resolve(r, names, n, res), 0);
	assert_ptr_equal(res[0].name, names[0]);
	check_answers(&res[0], 2, "192.0.2.10", 600, "2001:db8::10", 600);
	/* Through the CNAME, with the chain's smallest TTL. */
	check_answers(&res[1], 2, "198.51.100.7", 30, "2001:db8::7", 30);
	/* Two hops: 900 -> 30 -> 150. */
	check_answers(&res[2], 2, "198.51.100.7", 30, "2001:db8::7", 30);
	/* Two A records with their own TTLs. */
	check_answers(&res[3], 2, "203.0.113.1", 120, "203.0.113.2", 60);
	/* No AAAA does not fail the name. */
	check_answers(&res[4], 1, "192.0.2.20", 90);
	assert_int_equal(res[5].status, -ENOENT);
	assert_int_equal(res[5].nanswers, 0);
	check_answers(&res[6], 2, "192.0.2.10", 600, "2001:db8::10", 600);
	assert_int_equal(res[7].status, -EINVAL);
	edpg_name_results_free(res, n);
	assert_null(res[0].answers);

	/* The channel is reusable. */
	assert_int_equal(edpg_resolver_resolve(r, names, 1, res), 0);
	check_answers(&res[0], 2, "192.0.2.10", 600, "2001:db8::10", 600);
	edpg_name_results_free(res, 1);
	assert_int_equal(edpg_resolver_resolve(r, names, 0, res), 0);
	edpg_resolver_free(r);
}

static void test_refused(void **state)
{
	const char *names[] = { "outside.example" };
	struct edpg_name_result res;
	struct edpg_resolver *r = live(2000);

	(void)state;
	/* dnsmasq has no upstream for this one and answers REFUSED: server
	 * trouble, not "no such name".  c-ares 1.18 reports a REFUSED from
	 * the last server as ARES_ECONNREFUSED, newer ones as ARES_EREFUSED. */
	assert_int_equal(edpg_resolver_resolve(r, names, 1, &res), 0);
	if (res.status != -ECONNREFUSED && res.status != -EAGAIN)
		fail_msg("status %d", res.status);
	assert_int_equal(res.nanswers, 0);
	edpg_name_results_free(&res, 1);
	edpg_resolver_free(r);
}

static void test_second_server(void **state)
{
	char dead[32], ok[32];
	const char *servers[] = { dead, ok }, *names[] = { "my.idigi.com" };
	struct edpg_name_result res;
	struct edpg_resolver *r;
	int port = free_port();

	(void)state;
	assert_true(port > 0);
	snprintf(dead, sizeof(dead), "127.0.0.1:%d", port);
	snprintf(ok, sizeof(ok), "127.0.0.1:%d", dns_port);
	assert_int_equal(edpg_resolver_new(&r, servers, 2, 3000), 0);
	assert_int_equal(edpg_resolver_resolve(r, names, 1, &res), 0);
	check_answers(&res, 2, "203.0.113.1", 120, "203.0.113.2", 60);
	edpg_name_results_free(&res, 1);
	edpg_resolver_free(r);
}

static void test_nothing_listens(void **state)
{
	const char *names[] = { "login.etherios.com", "time.etherios.co.uk", "my.idigi.com" };
	struct edpg_name_result res[3];
	struct edpg_resolver *r;
	char srv[32];
	const char *servers[] = { srv };
	int port = free_port();
	int64_t t0;

	(void)state;
	assert_true(port > 0);
	snprintf(srv, sizeof(srv), "127.0.0.1:%d", port);
	assert_int_equal(edpg_resolver_new(&r, servers, 1, 1000), 0);
	t0 = now_ms();
	assert_int_equal(edpg_resolver_resolve(r, names, 3, res), 0);
	assert_true(now_ms() - t0 < 1500);
	for (int i = 0; i < 3; i++) {
		/* ICMP port unreachable on loopback: refused, or timed out if
		 * the error is not seen; never "no such name". */
		if (res[i].status != -ECONNREFUSED && res[i].status != -ETIMEDOUT)
			fail_msg("%s: status %d", names[i], res[i].status);
		assert_int_equal(res[i].nanswers, 0);
	}
	edpg_name_results_free(res, 3);
	edpg_resolver_free(r);
}

static void test_black_hole(void **state)
{
	const char *names[10] = {
		"a.example", "b.example", "c.example", "d.example", "e.example",
		"f.example", "g.example", "h.example", "i.example", "j.example",
	};
	struct edpg_name_result res[10];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct edpg_resolver *r;
	char srv[32];
	const char *servers[] = { srv };
	int64_t t0, took;
	int s;

	(void)state;
	/* A bound socket nobody reads: queries vanish, like a dead WAN. */
	s = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	snprintf(srv, sizeof(srv), "127.0.0.1:%d", ntohs(sa.sin_port));
	assert_int_equal(edpg_resolver_new(&r, servers, 1, 600), 0);
	t0 = now_ms();
	assert_int_equal(edpg_resolver_resolve(r, names, 10, res), 0);
	took = now_ms() - t0;
	/* Ten names cost one deadline, not ten. */
	if (took < 400 || took > 1200)
		fail_msg("10 names took %lld ms with a 600 ms deadline", (long long)took);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(res[i].status, -ETIMEDOUT);
		assert_int_equal(res[i].nanswers, 0);
	}
	edpg_name_results_free(res, 10);
	edpg_resolver_free(r);
	close(s);
}

static void test_server_strings(void **state)
{
	static const struct {
		const char *s;
		int err, family;
		uint16_t port;
	} cases[] = {
		{ "192.0.2.1", 0, AF_INET, 53 },
		{ "192.0.2.1:5353", 0, AF_INET, 5353 },
		{ "[2001:db8::1]:5353", 0, AF_INET6, 5353 },
		{ "[2001:db8::1]", 0, AF_INET6, 53 },
		{ "2001:db8::1", 0, AF_INET6, 53 },
		{ "", -EINVAL, 0, 0 },
		{ "dns.example", -EINVAL, 0, 0 },
		{ "192.0.2.1:", -EINVAL, 0, 0 },
		{ "192.0.2.1:0", -EINVAL, 0, 0 },
		{ "192.0.2.1:65536", -EINVAL, 0, 0 },
		{ "192.0.2.1:53x", -EINVAL, 0, 0 },
		{ "192.0.2.1:-1", -EINVAL, 0, 0 },
		{ "[2001:db8::1", -EINVAL, 0, 0 },
		{ "[2001:db8::1]x", -EINVAL, 0, 0 },
		{ "[192.0.2.1]:53", -EINVAL, 0, 0 },
	};
	struct edpg_resolver *r;
	const char *bad[] = { "127.0.0.1", "nonsense" };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t a[16];
		uint16_t port;
		int fam, err = edpg_resolver_parse_server(cases[i].s, &fam, a, &port);

		if (err != cases[i].err)
			fail_msg("'%s': %d", cases[i].s, err);
		if (!err) {
			assert_int_equal(fam, cases[i].family);
			assert_int_equal(port, cases[i].port);
		}
	}
	assert_int_equal(edpg_resolver_new(&r, bad, 2, 100), -EINVAL);
	assert_null(r);
	/* The system's servers: only that it sets up. */
	assert_int_equal(edpg_resolver_new(&r, NULL, 0, 0), 0);
	edpg_resolver_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_strings),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_second_server),
		cmocka_unit_test(test_nothing_listens),
		cmocka_unit_test(test_black_hole),
	};

	if (!find_dnsmasq()) {
		fprintf(stderr, "dnsmasq not installed: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, start_dnsmasq, teardown);
}
