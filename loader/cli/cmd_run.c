// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate run: the foreground daemon (for systemd, Type=simple).
 *
 * It keeps the destination table of names.c fresh and the sinks in step
 * with it: each name is resolved again when its shortest TTL runs out (not
 * on a fixed poll), DNS answers snooped on the LAN egress are added as they
 * pass, addresses expire by the rules of expiry.c (the data path's
 * last_used stamps are read every second for the grace), and every change
 * goes out as one delta: one nft transaction and in-place BPF updates of
 * the live generation.  The table is written to the address cache after
 * every change, so `dst list`, `apply` and the next boot see it.
 *
 * It also keeps the attachment itself: once a second, and at once when
 * rtnetlink reports a recorded interface changed or gone, the pins, links
 * and snooper are checked (health.c); what went missing is logged and
 * restored (pins again from the live objects, or the program loaded again,
 * links re-created, the policy pushed whole), what it cannot restore (an
 * interface down or deleted, another XDP program in our place) is logged
 * once, and "resolved" when it comes right.
 *
 * SIGHUP reloads the rules data atomically (a broken file leaves the old
 * policy live and says why); SIGTERM/SIGINT exit leaving the filter as it
 * is.  The state-dir lock is held only while pushing, so the other
 * commands keep working while the daemon runs.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "addr.h"
#include "cli.h"
#include "compile.h"
#include "health.h"
#include "log.h"
#include "names.h"
#include "privilege.h"
#include "resolver.h"
#include "rules.h"
#include "snoop.h"

static const char synopsis[] = "run [--resolve-floor SECONDS]";

/* Retry delays after a failed resolution, and the shortest refresh. */
#define RETRY_MIN	5
#define RETRY_MAX	300
#define PERSIST_EVERY	30	/* s: last_used stamps reach the cache file */
#define REPAIR_RETRY	10	/* s: after a restore that did not work */

struct run {
	struct edpg_policy p;
	struct edpg_names n;
	struct edpg_desired *d;		/* what the sinks hold */
	struct edpg_bpf b;
	struct edpg_ifaces ifs;
	struct edpg_resolver *rv;
	struct edpg_snoop *snoop;
	/* Questions the gateways asked; answers must match one when the
	 * snooper sees questions (@match). */
	struct edpg_questions *qs;
	bool match;
	uint64_t *due;			/* per name: next resolution (s) */
	uint32_t *retry;		/* per name: current retry delay */
	uint32_t floor;			/* shortest refresh interval */
	char cache[PATH_MAX];
	/* snooped answers waiting for the push, for the latency figure */
	uint64_t pending_ts[64];
	size_t npending;
	bool changed;
	bool dirty;			/* table pushed, cache not yet written */
	uint64_t last_persist;
	uint64_t last_used_poll;
	/* the attachment (health.c) */
	struct mnl_socket *nl;		/* rtnetlink link events */
	bool health_now;		/* a recorded interface changed */
	uint64_t last_health;
	uint64_t repair_after;		/* no new attempt before (s) */
	struct edpg_health health;	/* problems already logged */
	bool push_again;		/* the push after a restore failed */
	int snoop_fd[EDPG_SNOOP_NPINS];	/* held, to pin again (edpg_snoop_pins) */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t mono_s(void)
{
	return mono_ns() / 1000000000ULL;
}

static int64_t wall_off(void)
{
	return (int64_t)time(NULL) - (int64_t)mono_s();
}

static void log_change(void *ctx, enum edpg_names_change ch, const struct edpg_names *n,
		       const struct edpg_dst_entry *e, uint64_t now)
{
	const char *group = n->p->groups[e->group].name;
	char a[64];

	(void)ctx;
	(void)now;
	edpg_addr_format(&e->addr, a, sizeof(a));
	switch (ch) {
	case EDPG_CH_ADDED:
		edpg_info("added %s to %s (%s, %s, ttl %us)", a, group, e->name,
			  edpg_dst_source_name(e->source), e->ttl);
		break;
	case EDPG_CH_REFRESHED:
		edpg_debug("refreshed %s in %s (%s, %s, ttl %us)", a, group, e->name,
			   edpg_dst_source_name(e->source), e->ttl);
		break;
	case EDPG_CH_EXPIRED:
		edpg_info("removed %s from %s (%s, expired)", a, group, e->name);
		break;
	case EDPG_CH_EVICTED:
		edpg_info("removed %s from %s (%s, evicted: more than %u addresses)", a, group,
			  e->name, n->t.params[e->group].max_addrs);
		break;
	}
}

/* The desired state of the current table. */
static int build(struct run *r, struct edpg_desired **out)
{
	struct edpg_resolved *names = NULL;
	size_t nnames = 0;
	int err;

	*out = NULL;
	err = edpg_names_resolved(&r->n, &names, &nnames);
	if (err)
		return err;
	err = edpg_compile_for(&r->p, &r->ifs, names, nnames, out);
	edpg_resolved_free(names, nnames);
	return err;
}

/*
 * The cache file is written by a thread: an atomic write fsyncs the file
 * and the directory (milliseconds), and a snooped answer arriving meanwhile
 * must not wait for it.  The main thread hands over the newest text; an
 * older one not yet written is simply replaced.
 */
struct writer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf;
	size_t len;
	bool stop, running;
	const char *path;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		char *buf;
		size_t len;
		int err;

		while (!w->buf && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->buf)
			break;
		buf = w->buf;
		len = w->len;
		w->buf = NULL;
		pthread_mutex_unlock(&w->mu);
		err = edpg_write_atomic(w->path, buf, len);
		if (err)
			edpg_warn("cannot write the address cache %s: %s", w->path, strerror(-err));
		free(buf);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static struct writer writer = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

/* Stop the thread after it wrote what it holds (on exit). */
static void writer_stop(void)
{
	if (!writer.running)
		return;
	pthread_mutex_lock(&writer.mu);
	writer.stop = true;
	pthread_cond_signal(&writer.cv);
	pthread_mutex_unlock(&writer.mu);
	pthread_join(writer.th, NULL);
	writer.running = false;
}

static int persist(struct run *r)
{
	char *buf = NULL;
	size_t len;
	int err;

	r->last_persist = mono_s();
	r->dirty = false;
	if (!writer.running) {
		err = edpg_names_save_cache(&r->n, r->cache);
		if (err)
			edpg_warn("cannot write the address cache %s: %s", r->cache, strerror(-err));
		return err;
	}
	err = edpg_names_cache_text(&r->n, &buf, &len);
	if (err)
		return err;
	pthread_mutex_lock(&writer.mu);
	free(writer.buf);
	writer.buf = buf;
	writer.len = len;
	pthread_cond_signal(&writer.cv);
	pthread_mutex_unlock(&writer.mu);
	return 0;
}

/*
 * Push the table: edpg_sync() from what the sinks hold (a delta, or the
 * whole policy when more than addresses changed or a delta failed:
 * someone else changed the sinks meanwhile).  Under the state-dir lock.
 */
static int push(struct run *r, bool full)
{
	struct edpg_sinks s = { .bpf = &r->b, .ifs = &r->ifs };
	struct edpg_sync_opts o = { .full = full };
	struct edpg_desired *d = NULL;
	int err;

	err = build(r, &d);
	if (err)
		return edpg_err(err, "cannot compile the destination table");
	cli.lock_fd = edpg_lock(cli.state_dir);
	if (cli.lock_fd < 0) {
		edpg_desired_put(d);
		return cli.lock_fd;
	}
	err = edpg_sync(&s, r->d, d, &o, NULL);
	if (!err) {
		edpg_desired_put(r->d);
		r->d = d;
		d = NULL;
		/* Written by the main loop after the push: an fsync'ed
		 * file is not on the path of a gateway waiting for its
		 * answer to be allowed. */
		r->dirty = true;
	}
	edpg_unlock(cli.lock_fd);
	cli.lock_fd = -1;
	edpg_desired_put(d);
	return err;
}

static int schedule_init(struct run *r, uint64_t now)
{
	free(r->due);
	free(r->retry);
	r->due = calloc(r->n.nnames ? r->n.nnames : 1, sizeof(*r->due));
	r->retry = calloc(r->n.nnames ? r->n.nnames : 1, sizeof(*r->retry));
	if (!r->due || !r->retry)
		return -ENOMEM;
	for (size_t i = 0; i < r->n.nnames; i++)
		r->due[i] = now;
	return 0;
}

/* Resolve every name whose TTL ran out; returns changes or -errno. */
static int resolve_due(struct run *r, uint64_t now)
{
	struct edpg_name_result *res = NULL;
	const char **names = NULL;
	size_t *idx = NULL, k = 0;
	int err = 0, changes = 0;

	for (size_t i = 0; i < r->n.nnames; i++)
		k += r->due[i] <= now;
	if (!k)
		return 0;
	names = calloc(k, sizeof(*names));
	idx = calloc(k, sizeof(*idx));
	res = calloc(k, sizeof(*res));
	if (!names || !idx || !res) {
		err = -ENOMEM;
		goto out;
	}
	k = 0;
	for (size_t i = 0; i < r->n.nnames; i++)
		if (r->due[i] <= now) {
			idx[k] = i;
			names[k++] = r->n.names[i];
		}
	err = edpg_resolver_resolve(r->rv, names, k, res);
	if (err) {
		free(res);
		res = NULL;
		goto out;
	}
	now = mono_s();	/* the lookups took time */
	for (size_t j = 0; j < k; j++) {
		size_t i = idx[j];
		uint32_t minttl = UINT32_MAX;
		struct edpg_addr a[64];
		uint32_t t[64];
		size_t na = 0;
		int c;

		if (res[j].status || !res[j].nanswers) {
			/* Keep what we have (it expires on its own); try again
			 * sooner than a TTL, backing off. */
			r->retry[i] = r->retry[i] ? r->retry[i] * 2 : RETRY_MIN;
			if (r->retry[i] > RETRY_MAX)
				r->retry[i] = RETRY_MAX;
			r->due[i] = now + r->retry[i];
			edpg_warn("%s: %s; keeping its addresses until they expire, next try in %us",
				  names[j], res[j].status == -ENOENT || !res[j].status ?
				  "no such name" : strerror(-res[j].status), r->retry[i]);
			continue;
		}
		for (size_t q = 0; q < res[j].nanswers && na < 64; q++, na++) {
			a[na] = res[j].answers[q].addr;
			t[na] = res[j].answers[q].ttl;
			if (t[na] < minttl)
				minttl = t[na];
		}
		c = edpg_names_answer(&r->n, names[j], a, t, na, SRC_RESOLVED, now, log_change, r);
		if (c < 0) {
			err = c;
			goto out;
		}
		changes += c;
		r->retry[i] = 0;
		/* Ask again when the answer's TTL runs out. */
		r->due[i] = now + (minttl > r->floor ? minttl : r->floor);
	}
	err = changes;
out:
	if (res)
		edpg_name_results_free(res, k);
	free(names);
	free(idx);
	return err;
}

static int on_snooped(void *ctx, const struct edpg_snoop_event *ev)
{
	size_t len = ev->len < EDPG_SNOOP_MAX ? ev->len : EDPG_SNOOP_MAX;
	struct run *r = ctx;
	int c;

	if (ev->query) {
		c = edpg_names_asked(&r->n, r->qs, ev->mac, ev->port, ev->data, len, ev->tcp,
				     mono_s());
		if (c < 0)
			edpg_debug("snooped DNS question ignored: %s", strerror(-c));
		return 0;
	}
	c = edpg_names_snooped(&r->n, r->match ? r->qs : NULL, ev->mac, ev->port, ev->data, len,
			       ev->tcp, mono_s(), log_change, r);
	if (c == -EPERM) {
		char mac[EDPG_MAC_STRLEN];

		/* Debug only: whoever forges answers must not fill the log. */
		edpg_mac_format(ev->mac, mac);
		edpg_debug("ignored a DNS answer to %s port %u: it answers no question the gateway asked",
			  mac, ev->port);
	} else if (c > 0) {
		r->changed = true;
		if (r->npending < sizeof(r->pending_ts) / sizeof(r->pending_ts[0]))
			r->pending_ts[r->npending++] = ev->ts;
	} else if (c < 0 && c != -ENOENT) {
		edpg_debug("snooped DNS message ignored: %s", strerror(-c));
	}
	return 0;
}

/* The data path's last_used stamps feed the grace window: read once a
 * second (their granularity), not on every wake-up. */
static void poll_used(struct run *r)
{
	struct edpg_addr *addrs;
	uint64_t now = mono_s(), *ns;

	if (now == r->last_used_poll)
		return;
	r->last_used_poll = now;
	addrs = malloc((r->n.t.n ? r->n.t.n : 1) * sizeof(*addrs));
	ns = malloc((r->n.t.n ? r->n.t.n : 1) * sizeof(*ns));
	for (size_t i = 0; addrs && ns && i < r->n.t.n; i++)
		addrs[i] = r->n.t.v[i].addr;
	if (addrs && ns && !edpg_bpf_dst_last_used_many(&r->b, addrs, r->n.t.n, ns))
		edpg_names_used_stamps(&r->n, ns);
	free(addrs);
	free(ns);
}

/* Move the entries of @old into @n (a table for a new policy). */
static int carry_over(struct edpg_names *n, const struct edpg_names *old)
{
	for (size_t i = 0; i < old->t.n; i++) {
		const struct edpg_dst_entry *e = &old->t.v[i];
		uint64_t groups = edpg_names_groups_of(n->p, e->name);
		int idx = edpg_names_index(n, e->name), oidx = edpg_names_index(old, e->name);

		if (idx < 0)
			continue;
		if (oidx >= 0 && old->confirmed[oidx])
			n->confirmed[idx] = true;
		for (int g = 0; g < EDPG_MAX_GROUPS; g++) {
			struct edpg_dst_entry *ne;
			int err;

			if (!(groups & (1ULL << g)))
				continue;
			err = edpg_dst_add(&n->t, g, n->names[idx], &e->addr, e->source, e->ttl,
					   e->seen);
			if (err < 0)
				return err;
			ne = edpg_dst_find(&n->t, g, n->names[idx], &e->addr);
			if (e->expires_ttl > ne->expires_ttl)
				ne->expires_ttl = e->expires_ttl;
			if (e->last_used > ne->last_used)
				ne->last_used = e->last_used;
		}
	}
	return 0;
}

/* SIGHUP (or a failed delta): the rules data again, all or nothing. */
static int reload(struct run *r, const char *why)
{
	struct edpg_names nn;
	struct edpg_policy np, op;
	struct edpg_ifaces ifs;
	struct edpg_names on;
	int err;

	edpg_info("%s: reloading the rules data from %s", why, cli.rules);
	err = edpg_load_policy(&np, cli.rules, true);
	if (err) {
		edpg_info("the new rules data is invalid (see above); keeping the old policy");
		return err;
	}
	err = edpg_ifaces_load(cli.state_dir, &ifs);
	if (err) {
		edpg_policy_free(&np);
		return edpg_err(err, "cannot read %s/interfaces; keeping the old policy",
				cli.state_dir);
	}
	/* The table points into the policy: move both, keep the old ones
	 * until the push has worked. */
	op = r->p;
	on = r->n;
	r->p = np;
	err = edpg_names_init(&nn, &r->p, on.wall_off);
	if (!err) {
		nn.p = &r->p;
		on.p = &op;
		err = carry_over(&nn, &on);
		if (err)
			edpg_names_free(&nn);
	}
	if (!err) {
		struct edpg_ifaces oifs = r->ifs;

		r->n = nn;
		r->ifs = ifs;
		err = push(r, true);
		if (err) {
			edpg_names_free(&r->n);
			r->ifs = oifs;
		}
	}
	if (err) {
		edpg_policy_free(&r->p);
		r->p = op;
		r->n = on;
		r->n.p = &r->p;
		edpg_info("the new policy could not be pushed; keeping the old one");
		return err;
	}
	edpg_names_free(&on);
	edpg_policy_free(&op);
	err = schedule_init(r, mono_s());
	if (err)
		return err;
	edpg_info("reloaded: %zu groups, %zu names, %zu gateways", r->p.ngroups, r->n.nnames,
		  r->p.ngateways);
	return 0;
}

/* ---- the attachment ---------------------------------------------------- */

/* The snooper's objects, held like the XDP program's (r->b) so that
 * pins removed by hand are pinned again without loading anything. */
static void hold_snooper(struct run *r)
{
	char path[PATH_MAX];

	for (int i = 0; i < EDPG_SNOOP_NPINS; i++) {
		if (r->snoop_fd[i] >= 0)
			close(r->snoop_fd[i]);
		snprintf(path, sizeof(path), "%s/%s", cli.pin_dir, edpg_snoop_pins[i]);
		r->snoop_fd[i] = bpf_obj_get(path);
	}
}

static bool has_problem(const struct edpg_health *h, const struct edpg_problem *p)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->p[i].where, p->where) && !strcmp(h->p[i].code, p->code))
			return true;
	return false;
}

/* Each problem once when it appears, and once when it is gone. */
static void log_health(struct run *r, const struct edpg_health *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (!has_problem(&r->health, &h->p[i]))
			edpg_warn("%s", h->p[i].what);
	for (size_t i = 0; i < r->health.n; i++)
		if (!has_problem(h, &r->health.p[i]))
			edpg_info("resolved: %s", r->health.p[i].what);
	r->health = *h;
}

/*
 * Check the attachment and restore what can be restored.  The instance
 * the daemon holds is offered to the repair: with every pin removed it is
 * pinned again and keeps its gateways and counters.  Needs CAP_BPF and
 * CAP_NET_ADMIN only (loading, pinning on a root-owned bpffs, links, tc,
 * nft), which the daemon keeps.
 */
static void watch_attachment(struct run *r)
{
	struct edpg_held held = { .bpf = &r->b };
	struct edpg_restored rs;
	struct edpg_ifaces ifs;
	struct edpg_health h;
	struct edpg_bpf nb;
	uint64_t now = mono_s();
	int err;

	if (!r->health_now && now == r->last_health)
		return;
	r->health_now = false;
	r->last_health = now;
	if (r->push_again && !push(r, true))
		r->push_again = false;
	if (edpg_ifaces_load(cli.state_dir, &ifs))
		return;
	edpg_health_check(cli.pin_dir, &ifs, &h);
	log_health(r, &h);
	if (!edpg_health_needs_repair(&h, NULL) || now < r->repair_after)
		return;
	cli.lock_fd = edpg_lock(cli.state_dir);
	if (cli.lock_fd < 0)
		return;
	/* Again under the lock: a command may have restored it meanwhile. */
	err = edpg_ifaces_load(cli.state_dir, &ifs);
	if (!err)
		edpg_health_check(cli.pin_dir, &ifs, &h);
	if (err || !edpg_health_needs_repair(&h, NULL)) {
		edpg_unlock(cli.lock_fd);
		cli.lock_fd = -1;
		return;
	}
	memcpy(held.snoop_fd, r->snoop_fd, sizeof(held.snoop_fd));
	err = edpg_health_repair(cli.pin_dir, &ifs, NULL, &held, &nb, &rs);
	for (size_t i = 0; i < rs.n; i++)
		edpg_info("restored %s", rs.v[i]);
	if (nb.prog_fd >= 0) {
		if (edpg_ifaces_save(cli.state_dir, &ifs))
			edpg_warn("cannot write %s/interfaces", cli.state_dir);
		edpg_bpf_close(&r->b);
		r->b = nb;
		r->ifs = ifs;
	}
	edpg_unlock(cli.lock_fd);
	cli.lock_fd = -1;
	if (err) {
		r->repair_after = now + REPAIR_RETRY;
		edpg_warn("could not restore everything (%s); trying again in %ds", strerror(-err),
			  REPAIR_RETRY);
	}
	if (nb.prog_fd < 0)
		return;
	if (rs.reloaded)
		edpg_warn("the program was loaded again: its counters restart from zero");
	/* The snooper's ring may be a new one. */
	hold_snooper(r);
	edpg_snoop_close(r->snoop);
	if (edpg_snoop_open(&r->snoop, cli.pin_dir, on_snooped, r))
		r->snoop = NULL;
	r->match = edpg_snoop_questions(cli.pin_dir);
	/* Maps loaded anew are empty; and the table may be gone too. */
	r->push_again = push(r, true) != 0;
	if (r->push_again)
		edpg_warn("the policy could not be pushed after the restore; trying again");
	r->health_now = true;	/* and say "resolved" at once */
}

static int on_link(const struct nlmsghdr *nlh, void *data)
{
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct run *r = data;
	const char *name = NULL;
	struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifm))
		if (mnl_attr_get_type(a) == IFLA_IFNAME && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			name = mnl_attr_get_str(a);
	for (size_t i = 0; name && i < r->ifs.n; i++) {
		if (strcmp(r->ifs.v[i].name, name))
			continue;
		edpg_debug("rtnetlink: %s %s (ifindex %d, %s)", name,
			   nlh->nlmsg_type == RTM_DELLINK ? "deleted" : "changed", ifm->ifi_index,
			   ifm->ifi_flags & IFF_UP ? "up" : "down");
		r->health_now = true;
	}
	return MNL_CB_OK;
}

static void read_links(struct run *r)
{
	char buf[16384];
	ssize_t n;

	while ((n = mnl_socket_recvfrom(r->nl, buf, sizeof(buf))) > 0)
		mnl_cb_run(buf, n, 0, 0, on_link, r);
	/* Events lost (ENOBUFS): look anyway. */
	if (n < 0 && errno != EAGAIN)
		r->health_now = true;
}

/* Link events, so a deleted or re-created interface is seen at once (the
 * once-a-second check would find it too: this is not load-bearing). */
static void open_links(struct run *r)
{
	r->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (r->nl && mnl_socket_bind(r->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(r->nl);
		r->nl = NULL;
	}
	if (!r->nl)
		edpg_warn("no rtnetlink link events (%s); interfaces are checked once a second",
			  strerror(errno));
}

/*
 * Interfaces are recorded but pins are missing (a reboot empties bpffs;
 * or someone removed them): restore before anything else, so the daemon
 * brings the recorded attachment back instead of refusing to start.
 */
static int restore_at_start(struct run *r)
{
	struct edpg_restored rs = {};
	int err;

	cli.lock_fd = edpg_lock(cli.state_dir);
	if (cli.lock_fd < 0)
		return cli.lock_fd;
	err = edpg_ifaces_load(cli.state_dir, &r->ifs);
	if (!err)
		err = edpg_health_repair(cli.pin_dir, &r->ifs, NULL, NULL, &r->b, &rs);
	for (size_t i = 0; i < rs.n && r->b.prog_fd >= 0; i++)
		edpg_info("restored %s", rs.v[i]);
	if (r->b.prog_fd >= 0) {
		if (err)
			edpg_warn("not everything could be restored (%s); trying again later",
				  strerror(-err));
		err = edpg_ifaces_save(cli.state_dir, &r->ifs);
	}
	edpg_unlock(cli.lock_fd);
	cli.lock_fd = -1;
	return err ? edpg_err(err, "cannot restore the recorded attachment") : 0;
}

static int setup(struct run *r)
{
	uint64_t now = mono_s();
	int err;

	snprintf(r->cache, sizeof(r->cache), "%s/addresses", cli.state_dir);
	writer.path = r->cache;
	writer.running = !pthread_create(&writer.th, NULL, writer_main, &writer);
	if (!writer.running)
		edpg_warn("no cache writer thread; the cache is written inline");
	err = edpg_load_policy(&r->p, cli.rules, false);
	if (err)
		return err;
	err = edpg_ifaces_load(cli.state_dir, &r->ifs);
	if (err)
		return edpg_err(err, "cannot read %s/interfaces", cli.state_dir);
	err = edpg_bpf_open_pinned(&r->b, cli.pin_dir);
	if (err == -ENOENT && r->ifs.n)
		err = restore_at_start(r);
	else if (err)
		err = edpg_open_live(&r->b);
	if (err)
		return err;
	err = edpg_names_init(&r->n, &r->p, wall_off());
	if (err)
		return err;
	/* Yesterday's addresses before any DNS: a router booting with the
	 * WAN down enforces them. */
	err = edpg_names_load_cache(&r->n, r->cache, now);
	if (err && err != -ENOENT)
		edpg_warn("address cache %s unreadable: %s", r->cache, strerror(-err));
	edpg_info("edpgate run: %zu names in %zu groups, %zu cached addresses", r->n.nnames,
		  r->p.ngroups, r->n.t.n);
	/*
	 * The whole policy, both sinks, whatever they hold: an apply or a
	 * reload killed between its nft transaction and its BPF generation
	 * swap left nftables on the new policy and XDP on the old one (each
	 * whole), and this start-up push is what brings them back together.
	 */
	err = push(r, true);
	if (err)
		return err;
	r->qs = calloc(1, sizeof(*r->qs));
	if (!r->qs)
		return -ENOMEM;
	r->match = edpg_snoop_questions(cli.pin_dir);
	if (!r->match)
		edpg_warn("the DNS snooper sees no questions (attached by an older edpgate?): every snooped answer is taken; `edpgate detach --all` and `attach` again");
	err = edpg_snoop_open(&r->snoop, cli.pin_dir, on_snooped, r);
	if (err == -ENOENT) {
		edpg_warn("no DNS snooper is loaded (attached by an older edpgate?); `edpgate detach` and `attach` again to snoop answers");
		r->snoop = NULL;
	} else if (err) {
		return edpg_err(err, "cannot open the DNS snooper's ring buffer");
	}
	err = edpg_resolver_new(&r->rv, cli.resolvers, cli.nresolvers, 0);
	if (err)
		return edpg_err(err, "cannot set up the resolver");
	open_links(r);
	hold_snooper(r);
	r->health_now = true;
	return schedule_init(r, now);
}

static void teardown(struct run *r)
{
	writer_stop();
	edpg_snoop_close(r->snoop);
	if (r->nl)
		mnl_socket_close(r->nl);
	for (int i = 0; i < EDPG_SNOOP_NPINS; i++)
		if (r->snoop_fd[i] >= 0)
			close(r->snoop_fd[i]);
	edpg_resolver_free(r->rv);
	edpg_desired_put(r->d);
	edpg_names_free(&r->n);
	edpg_policy_free(&r->p);
	edpg_bpf_close(&r->b);
	free(r->due);
	free(r->retry);
}

/* Milliseconds until the next thing to do (at most one second: the
 * last_used stamps are read every second). */
static int next_timeout(const struct run *r, uint64_t now_ns)
{
	uint64_t next = now_ns / 1000000000ULL + 1, x;
	int64_t ms;

	for (size_t i = 0; i < r->n.nnames; i++)
		if (r->due[i] < next)
			next = r->due[i];
	x = edpg_names_next_expiry(&r->n);
	if (x < next)
		next = x;
	ms = (int64_t)(next * 1000) - (int64_t)(now_ns / 1000000);
	return ms < 0 ? 0 : ms > 1000 ? 1000 : ms;
}

static void report_latency(struct run *r)
{
	uint64_t now = mono_ns();

	for (size_t i = 0; i < r->npending; i++)
		edpg_debug("snoop-to-map %llu us",
			   (unsigned long long)(now - r->pending_ts[i]) / 1000);
	r->npending = 0;
}

int do_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "resolve-floor", required_argument, NULL, 'f' },
		{}
	};
	struct run r = { .floor = RETRY_MIN, .snoop_fd = { -1, -1, -1, -1 } };
	struct pollfd pfd[3];
	sigset_t set;
	int c, err, sfd, ret = EDPG_EXIT_FAIL;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			r.floor = strtoul(optarg, &end, 10);
			if (*end || r.floor < 1 || r.floor > 86400)
				return usage_err(synopsis, "--resolve-floor must be 1..86400");
			break;
		default:
			return usage_err(synopsis, "unknown option");
		}
	}
	if (optind != argc)
		return usage_err(synopsis, "run takes no arguments");
	/* Logs go to the journal as they happen. */
	setvbuf(stderr, NULL, _IOLBF, 0);

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return edpg_err(-errno, "signalfd"), EDPG_EXIT_FAIL;
	memset(&r.b, 0, sizeof(r.b));
	r.b.prog_fd = -1;
	for (int i = 0; i < EDPG_M_MAX; i++)
		r.b.map_fd[i] = -1;
	err = setup(&r);
	if (err)
		goto out;
	/*
	 * Start-up is done: whatever else root could do (read any file,
	 * ptrace, load modules, ...) a daemon parsing DNS answers off the
	 * wire must not be able to.
	 */
	err = edpg_caps_limit(EDPG_RUN_CAPS);
	if (err) {
		edpg_err(err, "cannot drop the capabilities the daemon does not need");
		goto out;
	}

	for (;;) {
		struct signalfd_siginfo si;
		uint64_t now;
		int n, ch;

		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = r.snoop ? edpg_snoop_fd(r.snoop) : -1;
		pfd[1].events = POLLIN;
		pfd[2].fd = r.nl ? mnl_socket_get_fd(r.nl) : -1;
		pfd[2].events = POLLIN;
		n = poll(pfd, 3, next_timeout(&r, mono_ns()));
		if (n < 0 && errno != EINTR) {
			edpg_err(-errno, "poll");
			goto out;
		}
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				reload(&r, "SIGHUP");
				continue;
			}
			edpg_info("%s: exiting; the filter stays as it is",
				  si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			persist(&r);
			ret = EDPG_EXIT_OK;
			goto out;
		}
		/* Snooped answers first: a gateway is waiting on them. */
		if (r.snoop && edpg_snoop_consume(r.snoop) > 0 && r.changed) {
			r.changed = false;
			if (push(&r, false))
				reload(&r, "push failed");
			report_latency(&r);
		}
		r.npending = 0;
		if (r.nl && n > 0 && pfd[2].revents)
			read_links(&r);
		watch_attachment(&r);
		now = mono_s();
		ch = resolve_due(&r, now);
		if (ch < 0)
			edpg_warn("resolution failed: %s", strerror(-ch));
		poll_used(&r);
		c = edpg_names_expire(&r.n, mono_s(), log_change, &r);
		if ((ch > 0 || c > 0) && push(&r, false))
			reload(&r, "push failed");
		/* At most once a second: formatting the table is not free. */
		if ((r.dirty && mono_s() != r.last_persist) ||
		    mono_s() - r.last_persist >= PERSIST_EVERY)
			persist(&r);
	}
out:
	teardown(&r);
	close(sfd);
	return ret;
}
