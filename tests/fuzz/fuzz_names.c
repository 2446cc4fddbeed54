// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the destination table (names.c) under the shipped
 * rules (rules/devicecloud.rules, or $EDPG_FUZZ_RULES): the input is a
 * script of operations on one table (answers, questions, snooped answers
 * with and without the question ring, time passing with expiry, the data
 * path's stamps, and the cache text round trip).  After every operation
 * the table must be consistent: every entry a name and group of the
 * policy, no (group, name, address) twice, and the compile input built
 * from it lists each entry's address under its name.  A cache text loaded
 * into a new table and formatted again is a fixed point.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "names.h"
#include "rules.h"
#include "state.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static struct edpg_policy rules;
static char cache_path[64];

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_names: %s\n", what);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *path = getenv("EDPG_FUZZ_RULES") ?: "rules/devicecloud.rules";
	struct edpg_diags d = { 0 };
	char *text;
	size_t len;

	(void)argc;
	(void)argv;
	if (edpg_read_file(path, &text, &len)) {
		fprintf(stderr, "fuzz_names: cannot read %s (run from the source tree or set EDPG_FUZZ_RULES)\n",
			path);
		exit(1);
	}
	check(!edpg_rules_parse(&rules, path, text, len, &d), "the shipped rules parse");
	free(text);
	edpg_diags_free(&d);
	/* The round trip goes through a file: the cache is one.  On tmpfs
	 * when there is one: the atomic write's fsyncs cost nothing there. */
	snprintf(cache_path, sizeof(cache_path), "%s/fuzz_names.%d",
		 access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm", (int)getpid());
	return 0;
}

/* The input as a byte stream; zeros once it runs out. */
struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned int byte(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* The next @len bytes (fewer at the end) as a message. */
static const uint8_t *chunk(struct in *in, size_t *len)
{
	const uint8_t *p = in->p;

	*len = (byte(in) << 8 | byte(in)) % 600;
	p = in->p;
	if (*len > in->n)
		*len = in->n;
	in->p += *len;
	in->n -= *len;
	return p;
}

static void consistent(const struct edpg_names *n)
{
	struct edpg_resolved *r = NULL;
	size_t nr = 0;

	for (size_t i = 0; i < n->t.n; i++) {
		const struct edpg_dst_entry *e = &n->t.v[i];

		check(e->group < rules.ngroups, "entry of no group");
		check(edpg_names_index(n, e->name) >= 0, "entry of no name");
		check(edpg_names_groups_of(&rules, e->name) & (1ULL << e->group),
		      "entry in a group that does not list its name");
		for (size_t k = i + 1; k < n->t.n; k++)
			check(e->group != n->t.v[k].group || strcmp(e->name, n->t.v[k].name) ||
			      edpg_addr_cmp(&e->addr, &n->t.v[k].addr), "entry twice");
	}
	if (edpg_names_resolved(n, &r, &nr))
		return;		/* out of memory */
	check(nr == n->nnames, "compile input: one per name");
	for (size_t i = 0; i < n->t.n; i++) {
		int idx = edpg_names_index(n, n->t.v[i].name);
		bool found = false;

		for (size_t k = 0; k < r[idx].naddrs && !found; k++)
			found = !edpg_addr_cmp(&r[idx].addrs[k], &n->t.v[i].addr);
		check(found, "an entry missing from the compile input");
	}
	for (size_t i = 0; i < nr; i++) {
		free((char *)r[i].name);
		free(r[i].addrs);
	}
	free(r);
}

static void answer(struct edpg_names *n, struct in *in, uint64_t now)
{
	struct edpg_addr a[8];
	uint32_t ttl[8];
	size_t na = byte(in) % 8;
	int r;

	if (!n->nnames)
		return;
	for (size_t i = 0; i < na; i++) {
		bool v6 = byte(in) & 1;

		memset(&a[i], 0, sizeof(a[i]));
		a[i].family = v6 ? AF_INET6 : AF_INET;
		a[i].plen = v6 ? 128 : 32;
		for (int k = 0; k < (v6 ? 16 : 4); k++)
			a[i].addr[k] = byte(in);
		ttl[i] = byte(in) << 8 | byte(in);
	}
	r = edpg_names_answer(n, n->names[byte(in) % n->nnames], a, ttl, na, SRC_RESOLVED, now,
			      NULL, NULL);
	check(r >= 0 || r == -ENOMEM, "answer for a name of the policy");
}

/* Cache text -> file -> a new table -> text: the second text is the
 * text of the table it makes (a fixed point). */
static void round_trip(const struct edpg_names *n, uint64_t now)
{
	char *t1 = NULL, *t2 = NULL, *t3 = NULL;
	struct edpg_names a, b;
	size_t l1, l2, l3;

	if (edpg_names_cache_text(n, &t1, &l1))
		return;
	check(!edpg_names_init(&a, &rules, n->wall_off), "table for the round trip");
	check(!edpg_names_init(&b, &rules, n->wall_off), "table for the round trip");
	if (!edpg_write_atomic(cache_path, t1, l1) && !edpg_names_load_cache(&a, cache_path, now)) {
		check(a.t.n == n->t.n, "round trip keeps every entry");
		consistent(&a);
		if (!edpg_names_cache_text(&a, &t2, &l2) &&
		    !edpg_write_atomic(cache_path, t2, l2) &&
		    !edpg_names_load_cache(&b, cache_path, now) &&
		    !edpg_names_cache_text(&b, &t3, &l3))
			check(l2 == l3 && !memcmp(t2, t3, l2), "cache text is not a fixed point");
	}
	unlink(cache_path);
	free(t1);
	free(t2);
	free(t3);
	edpg_names_free(&a);
	edpg_names_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 0x00, 0x40, 0x9d, 0x00, 0x00, 0x01 };
	struct edpg_questions *qs = calloc(1, sizeof(*qs));
	struct in in = { data, size };
	struct edpg_names n;
	uint64_t now = 1000, *ns;
	const uint8_t *msg;
	size_t len;
	int r;

	if (!qs || edpg_names_init(&n, &rules, 1700000000)) {
		free(qs);
		return 0;
	}
	for (int ops = 0; in.n && ops < 64; ops++) {
		unsigned int op = byte(&in), port = 1024 + byte(&in);

		/* Low three bits: the operation; bit 3: TCP; bit 4: with the ring. */
		switch (op & 7) {
		case 0:
			answer(&n, &in, now);
			break;
		case 1:
			msg = chunk(&in, &len);
			edpg_names_asked(&n, qs, mac, port, msg, len, op & 8, now);
			break;
		case 2:
			msg = chunk(&in, &len);
			edpg_names_snooped(&n, op & 16 ? qs : NULL, mac, port, msg, len, op & 8, now,
					   NULL, NULL);
			break;
		case 3:
			now += (byte(&in) << 8 | byte(&in)) * 8;
			r = edpg_names_expire(&n, now, NULL, NULL);
			check(r >= 0 || r == -ENOMEM, "expire");
			break;
		case 4:
			ns = calloc(n.t.n ? n.t.n : 1, sizeof(*ns));
			for (size_t i = 0; ns && i < n.t.n; i++)
				ns[i] = (uint64_t)byte(&in) * now * 10000000ULL;
			if (ns)
				edpg_names_used_stamps(&n, ns);
			free(ns);
			break;
		case 5:
			round_trip(&n, now);
			break;
		default:
			now += byte(&in);
			break;
		}
		consistent(&n);
	}
	edpg_names_free(&n);
	free(qs);
	return 0;
}
