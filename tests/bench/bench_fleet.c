// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_fleet: the two halves of the fleet benchmark (scripts/bench-fleet.sh).
 *
 *   bench_fleet enrol STORE-WORDS COUNT [PIN-DIR]
 *       COUNT enrolments, one after the other, at the site of STORE-WORDS,
 *       each done as `gateway add` does it (the site's list read, a line
 *       added, the chunks and the pointer flip).  Prints per enrolment
 *       "COMMIT SITE N WALL_US" after the flip; with PIN-DIR (a router of
 *       the site running `edpgate run`), waits until the gateway is in that
 *       router's BPF map and prints "ENFORCED SITE N LATENCY_US" as well.
 *   bench_fleet watch STORE-WORDS STATE-DIR
 *       A simulated router without XDP: the daemon's store threads
 *       (ops/fleet.c) on STATE-DIR; prints "APPLIED SITE N WALL_US" each
 *       time the local gateways file changes (N: its gateway lines), until
 *       SIGTERM.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpfmaps.h"
#include "etcd.h"
#include "fleet.h"
#include "site.h"
#include "state.h"
#include "storeconf.h"

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int conf(struct edpg_store_conf *c, const char *words)
{
	char line[4096];

	memset(c, 0, sizeof(*c));
	snprintf(line, sizeof(line), "store %s", words);
	if (edpg_store_conf_parse(c, "argv", line) || edpg_store_conf_finish(c, "argv"))
		return -EINVAL;
	return 0;
}

static int enrol(const char *words, long count, const char *pin_dir)
{
	struct edpg_store_conf c;
	struct edpg_etcd *e = NULL;
	struct edpg_bpf b;
	bool have_b = false;
	int err;

	err = conf(&c, words) ?: edpg_etcd_open(&e, &c);
	if (err)
		return 1;
	if (pin_dir) {
		edpg_bpf_init(&b);
		if (edpg_bpf_open_pinned(&b, pin_dir)) {
			fprintf(stderr, "bench_fleet: no program pinned in %s\n", pin_dir);
			return 1;
		}
		have_b = true;
	}
	for (long i = 0; i < count; i++) {
		uint8_t mac[6] = { 0x00, 0x40, 0x9d, 0xbe, (uint8_t)(i >> 8), (uint8_t)i };
		struct edpg_site_doc d;
		char *text;
		size_t len;
		int64_t rev;
		uint64_t t0;

		err = edpg_site_gateways_get(e, &c, 0, &d);
		if (err) {
			fprintf(stderr, "bench_fleet: read: %s\n", edpg_etcd_error(e));
			return 1;
		}
		len = d.len + 64;
		text = malloc(len);
		if (!text)
			return 1;
		len = snprintf(text, len, "%sgateway %02x:%02x:%02x:%02x:%02x:%02x\n", d.text, mac[0],
			       mac[1], mac[2], mac[3], mac[4], mac[5]);
		err = edpg_site_gateways_put(e, &c, &d, text, len, &rev);
		t0 = wall_us();
		free(text);
		edpg_site_doc_free(&d);
		if (err) {
			fprintf(stderr, "bench_fleet: put: %s\n", edpg_etcd_error(e));
			return 1;
		}
		printf("COMMIT %s %ld %llu\n", c.site, i + 1, (unsigned long long)t0);
		if (have_b) {
			struct edpg_gw g;

			uint64_t give_up = wall_us() + 60 * 1000000ULL;

			/* 100 us polls of the map: the figure's resolution.
			 * An enrolment that grows the maps replaces the
			 * gateway table: follow the pins to the new one. */
			while (edpg_bpf_gw_get(&b, mac, &g)) {
				if (edpg_bpf_follow(&b, pin_dir) < 0 || wall_us() > give_up) {
					fprintf(stderr, "bench_fleet: gateway %ld not in the map after 60 s\n",
						i + 1);
					return 1;
				}
				usleep(100);
			}
			printf("ENFORCED %s %ld %llu\n", c.site, i + 1,
			       (unsigned long long)(wall_us() - t0));
		}
		fflush(stdout);
	}
	if (have_b)
		edpg_bpf_close(&b);
	edpg_etcd_close(e);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static long count_lines(const char *path)
{
	char *text = NULL, *p;
	size_t len;
	long n = 0;

	if (edpg_read_file(path, &text, &len))
		return -1;
	for (p = text; (p = strstr(p, "gateway ")); p++)
		if (p == text || p[-1] == '\n')
			n++;
	free(text);
	return n;
}

static int watch(const char *words, const char *state_dir)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct edpg_store_conf c;
	struct edpg_fleet *f = NULL;
	char path[PATH_MAX];

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (conf(&c, words) || edpg_mkdir_p(state_dir, 0700) || edpg_fleet_start(&f, &c, state_dir))
		return 1;
	edpg_state_path(path, sizeof(path), state_dir, EDPG_STATE_GATEWAYS);
	while (!stop) {
		struct pollfd p = { .fd = edpg_fleet_fd(f), .events = POLLIN };
		struct edpg_learned *v = NULL;
		bool gw = false;
		size_t n = 0;

		if (poll(&p, 1, 200) <= 0)
			continue;
		if (edpg_fleet_take(f, &gw, &v, &n))
			break;
		free(v);
		if (gw) {
			printf("APPLIED %s %ld %llu\n", c.site, count_lines(path),
			       (unsigned long long)wall_us());
			fflush(stdout);
		}
	}
	edpg_fleet_stop(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "enrol"))
		return enrol(argv[2], strtol(argv[3], NULL, 10), argc > 4 ? argv[4] : NULL);
	if (argc == 4 && !strcmp(argv[1], "watch"))
		return watch(argv[2], argv[3]);
	fprintf(stderr, "usage: bench_fleet enrol STORE-WORDS COUNT [PIN-DIR] | watch STORE-WORDS STATE-DIR\n");
	return 2;
}
