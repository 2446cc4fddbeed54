// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * daemon.c - what `edpgate run` does between two wake-ups (daemon.h):
 * the table kept fresh, its changes pushed with edpg_sync(), the cache
 * written, the rules reloaded, the attachment kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "daemon.h"
#include "log.h"
#include "rules.h"
#include "sync.h"

#define PERSIST_EVERY	30	/* s: last_used stamps reach the cache file */
#define SEEN_SAVE_EVERY	2	/* s: snooped answers reach STATE/dns.seen */

void edpg_daemon_init(struct edpg_daemon *r, const struct edpg_where *w, uint32_t floor)
{
	memset(r, 0, sizeof(*r));
	r->w = *w;
	r->sched.floor = floor;
	edpg_bpf_init(&r->b);
	edpg_grower_init(&r->grower);
	for (int i = 0; i < EDPG_SNOOP_NPINS; i++)
		r->keeper.snoop_fd[i] = -1;
}

int edpg_daemon_snoop_fd(const struct edpg_daemon *r)
{
	return r->snoop ? edpg_snoop_fd(r->snoop) : -1;
}

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

	(void)now;
	edpg_addr_format(&e->addr, a, sizeof(a));
	/* What this router learned, for its HA peer (fleet.c); not what
	 * the peer told us, or the two would echo it for ever. */
	if (ctx && (ch == EDPG_CH_ADDED || ch == EDPG_CH_REFRESHED) &&
	    !((struct edpg_daemon *)ctx)->from_peer &&
	    (e->source == SRC_RESOLVED || e->source == SRC_SNOOPED))
		edpg_fleet_publish(((struct edpg_daemon *)ctx)->fleet, e->name, &e->addr, e->ttl,
				   e->source);
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
static int build(struct edpg_daemon *r, struct edpg_desired **out)
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

int edpg_daemon_persist(struct edpg_daemon *r)
{
	char *buf = NULL;
	size_t len;
	int err;

	r->last_persist = mono_s();
	r->dirty = false;
	if (!r->writer) {
		err = edpg_names_save_cache(&r->n, r->cache);
		if (err)
			edpg_warn("cannot write the address cache %s: %s", r->cache, strerror(-err));
		return err;
	}
	err = edpg_names_cache_text(&r->n, &buf, &len);
	if (err)
		return err;
	edpg_cache_writer_put(r->writer, buf, len);
	return 0;
}

/*
 * Push the table: edpg_sync() from what the sinks hold (a delta, or the
 * whole policy when more than addresses changed or a delta failed:
 * someone else changed the sinks meanwhile).  Under the state-dir lock.
 */
static int push(struct edpg_daemon *r, bool full)
{
	struct edpg_sinks s = {
		.bpf = &r->b, .ifs = &r->ifs, .pin_dir = r->w.pin_dir,
		.grow = r->grower.fd >= 0 ? edpg_grower_grow : NULL, .grow_arg = &r->grower,
	};
	struct edpg_sync_opts o = { .full = full };
	struct edpg_desired *d = NULL;
	uint32_t cap = r->b.max_gateways;
	int err, fd;

	err = build(r, &d);
	if (err)
		return edpg_err(err, "cannot compile the destination table");
	fd = edpg_lock(r->w.state_dir);
	if (fd < 0) {
		edpg_desired_put(d);
		return fd;
	}
	/* A command may have grown the maps since the last push: push
	 * into the instance the links run, not the one held. */
	edpg_bpf_finish_growth(r->w.pin_dir, &r->ifs);
	err = edpg_bpf_follow(&r->b, r->w.pin_dir);
	if (err > 0)
		edpg_info("the maps were grown by another command; following them");
	/* Never into the held ones then: their ctl is the live one. */
	err = err < 0 ? edpg_err(err, "cannot open the grown maps") : edpg_sync(&s, r->d, d, &o, NULL);
	if (!err) {
		edpg_desired_put(r->d);
		r->d = d;
		d = NULL;
		/* Written by the main loop after the push: an fsync'ed
		 * file is not on the path of a gateway waiting for its
		 * answer to be allowed. */
		r->dirty = true;
	}
	/* A growth (ours, or a command's we followed) switched the snooper
	 * too: the keeper must pin the new one again if its pins go. */
	if (r->b.max_gateways != cap)
		edpg_keeper_hold_snooper(&r->keeper);
	edpg_unlock(fd);
	edpg_desired_put(d);
	return err;
}

/* The data path's last_used stamps feed the grace window: read once a
 * second (their granularity), not on every wake-up. */
static void poll_used(struct edpg_daemon *r)
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

/* SIGHUP (or a failed delta): the rules data again, all or nothing. */
int edpg_daemon_reload(struct edpg_daemon *r, const char *why)
{
	struct edpg_names nn;
	struct edpg_policy np, op;
	struct edpg_ifaces ifs;
	struct edpg_names on;
	int err;

	edpg_info("%s: reloading the rules data from %s", why, r->w.rules);
	err = edpg_policy_load(&np, r->w.rules, r->w.state_dir, true);
	if (err) {
		edpg_info("the new rules data is invalid (see above); keeping the old policy");
		return err;
	}
	err = edpg_ifaces_load(r->w.state_dir, &ifs);
	if (err) {
		edpg_policy_free(&np);
		return edpg_err(err, "cannot read %s/" EDPG_STATE_INTERFACES "; keeping the old policy",
				r->w.state_dir);
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
		err = edpg_names_carry_over(&nn, &on);
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
	err = edpg_refresh_init(&r->sched, r->n.nnames, mono_s());
	if (err)
		return err;
	edpg_info("reloaded: %zu groups, %zu names, %zu gateways", r->p.ngroups, r->n.nnames,
		  r->p.ngateways);
	return 0;
}

void edpg_daemon_fleet(struct edpg_daemon *r)
{
	struct edpg_learned *v = NULL;
	bool gateways = false;
	size_t n = 0;
	int ch = 0;

	if (!r->fleet || edpg_fleet_take(r->fleet, &gateways, &v, &n))
		return;
	if (gateways && r->local_rules) {
		/* The store's rules when it has some (fleet.c checked them). */
		edpg_state_path(r->store_rules, sizeof(r->store_rules), r->w.state_dir,
				EDPG_STATE_STORE_RULES);
		r->w.rules = access(r->store_rules, R_OK) ? r->local_rules : r->store_rules;
	}
	if (gateways)
		edpg_daemon_reload(r, "the site's gateways or rules changed in the store");
	r->from_peer = true;
	for (size_t i = 0; i < n; i++) {
		int c = edpg_names_answer(&r->n, v[i].name, &v[i].addr, &v[i].ttl, 1,
					  (enum edpg_dst_source)v[i].source, mono_s(), log_change, r);

		if (c > 0)
			ch += c;
	}
	r->from_peer = false;
	free(v);
	if (ch > 0 && push(r, false))
		edpg_daemon_reload(r, "push failed");
}

/* ---- the attachment ---------------------------------------------------- */

/* Open (again) the snooper's ring, feeding the intake. */
static int open_snooper(struct edpg_daemon *r)
{
	int err;

	r->in.match = edpg_snoop_questions(r->w.pin_dir);
	err = edpg_snoop_open(&r->snoop, r->w.pin_dir, edpg_intake_event, &r->in);
	if (err)
		r->snoop = NULL;
	return err;
}

/* Once a second or on a link event: check the attachment; after a
 * restore, the snooper's ring may be a new one and the maps empty. */
static void watch_attachment(struct edpg_daemon *r)
{
	uint64_t now = mono_s();
	bool reloaded;

	if (!edpg_keeper_due(&r->keeper, now))
		return;
	if (r->push_again && !push(r, true))
		r->push_again = false;
	if (edpg_keeper_check(&r->keeper, now, &r->b, &r->ifs, &reloaded) <= 0)
		return;
	if (reloaded)
		edpg_warn("the program was loaded again: its counters restart from zero");
	edpg_snoop_close(r->snoop);
	open_snooper(r);
	/* Maps loaded anew are empty; and the table may be gone too. */
	r->push_again = push(r, true) != 0;
	if (r->push_again)
		edpg_warn("the policy could not be pushed after the restore; trying again");
}

/* The program, the interfaces, the table with yesterday's addresses. */
static int setup_table(struct edpg_daemon *r, uint64_t now)
{
	int err;

	err = edpg_policy_load(&r->p, r->w.rules, r->w.state_dir, false);
	if (err)
		return err;
	err = edpg_ifaces_load(r->w.state_dir, &r->ifs);
	if (err)
		return edpg_err(err, "cannot read %s/" EDPG_STATE_INTERFACES, r->w.state_dir);
	err = edpg_bpf_open_pinned(&r->b, r->w.pin_dir);
	if (err == -ENOENT && r->ifs.n)
		/* Interfaces recorded, pins missing (a reboot empties
		 * bpffs): bring the attachment back instead of refusing. */
		err = edpg_keeper_restore_at_start(&r->w, &r->ifs, &r->b);
	else if (err)
		err = edpg_bpf_open_live(&r->b, r->w.pin_dir);
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
	return 0;
}

int edpg_daemon_setup(struct edpg_daemon *r)
{
	uint64_t now = mono_s();
	int err;

	edpg_state_path(r->cache, sizeof(r->cache), r->w.state_dir, EDPG_STATE_ADDRESSES);
	if (edpg_cache_writer_start(&r->writer, r->cache))
		edpg_warn("no cache writer thread; the cache is written inline");
	err = setup_table(r, now);
	if (err)
		return err;
	/*
	 * The whole policy, both sinks, whatever they hold: an apply or a
	 * reload killed between its nft transaction and its BPF generation
	 * swap left nftables on the new policy and XDP on the old one (each
	 * whole), and this start-up push is what brings them back together.
	 */
	err = push(r, true);
	if (err)
		return err;
	r->in = (struct edpg_intake){ .n = &r->n, .clock = mono_s, .log = log_change, .log_ctx = r };
	r->in.qs = calloc(1, sizeof(*r->in.qs));
	if (!r->in.qs)
		return -ENOMEM;
	err = edpg_seen_init(&r->seen);
	if (err)
		return err;
	err = edpg_seen_load(&r->seen, r->w.state_dir);
	if (err && err != -ENOENT)
		edpg_warn("%s/" EDPG_STATE_DNS_SEEN " unreadable (%s); learn starts afresh",
			  r->w.state_dir, strerror(-err));
	r->in.seen = &r->seen;
	err = open_snooper(r);
	if (!r->in.match)
		edpg_warn("the DNS snooper sees no questions (attached by an older edpgate?): every snooped answer is taken; `edpgate detach --all` and `attach` again");
	if (err == -ENOENT)
		edpg_warn("no DNS snooper is loaded (attached by an older edpgate?); `edpgate detach` and `attach` again to snoop answers");
	else if (err)
		return edpg_err(err, "cannot open the DNS snooper's ring buffer");
	err = edpg_resolver_new(&r->rv, r->w.resolvers, r->w.nresolvers, 0);
	if (err)
		return edpg_err(err, "cannot set up the resolver");
	edpg_keeper_init(&r->keeper, &r->w, &r->ifs);
	return edpg_refresh_init(&r->sched, r->n.nnames, now);
}

void edpg_daemon_teardown(struct edpg_daemon *r)
{
	edpg_fleet_stop(r->fleet);
	if (r->seen.dirty)
		edpg_seen_save(&r->seen, r->w.state_dir);
	edpg_seen_free(&r->seen);
	edpg_cache_writer_stop(r->writer);
	edpg_snoop_close(r->snoop);
	edpg_keeper_free(&r->keeper);
	edpg_resolver_free(r->rv);
	edpg_desired_put(r->d);
	edpg_names_free(&r->n);
	edpg_policy_free(&r->p);
	edpg_bpf_close(&r->b);
	edpg_grower_stop(&r->grower);
	edpg_refresh_free(&r->sched);
	free(r->in.qs);
}

/* Milliseconds until the next thing to do (at most one second: the
 * last_used stamps are read every second). */
int edpg_daemon_timeout(const struct edpg_daemon *r)
{
	uint64_t now_ns = mono_ns(), next = now_ns / 1000000000ULL + 1, x;
	int64_t ms;

	x = edpg_refresh_next(&r->sched);
	if (x < next)
		next = x;
	x = edpg_names_next_expiry(&r->n);
	if (x < next)
		next = x;
	ms = (int64_t)(next * 1000) - (int64_t)(now_ns / 1000000);
	return ms < 0 ? 0 : ms > 1000 ? 1000 : ms;
}

static void report_latency(struct edpg_daemon *r)
{
	uint64_t now = mono_ns();

	for (size_t i = 0; i < r->in.npending; i++)
		edpg_debug("snoop-to-map %llu us",
			   (unsigned long long)(now - r->in.pending_ts[i]) / 1000);
	r->in.npending = 0;
}

/* Snooped answers first (a gateway is waiting), then the attachment,
 * the names due, the stamps, expiry and the cache. */
void edpg_daemon_tick(struct edpg_daemon *r, bool links)
{
	int ch, c;

	/* Snooped answers first: a gateway is waiting on them. */
	if (r->snoop && edpg_snoop_consume(r->snoop) > 0 && r->in.changed) {
		r->in.changed = false;
		if (push(r, false))
			edpg_daemon_reload(r, "push failed");
		report_latency(r);
	}
	r->in.npending = 0;
	if (links)
		edpg_keeper_read_links(&r->keeper);
	watch_attachment(r);
	ch = edpg_refresh_run(&r->sched, &r->n, r->rv, mono_s(), mono_s, log_change, r);
	if (ch < 0)
		edpg_warn("resolution failed: %s", strerror(-ch));
	poll_used(r);
	c = edpg_names_expire(&r->n, mono_s(), log_change, r);
	if ((ch > 0 || c > 0) && push(r, false))
		edpg_daemon_reload(r, "push failed");
	/* The answers learn joins with: a few seconds late at most, and
	 * never more than once a second however many answers arrive. */
	if (r->seen.dirty && mono_s() - r->last_seen_save >= SEEN_SAVE_EVERY) {
		int e = edpg_seen_save(&r->seen, r->w.state_dir);

		if (e)
			edpg_warn("cannot write %s/" EDPG_STATE_DNS_SEEN ": %s", r->w.state_dir,
				  strerror(-e));
		r->last_seen_save = mono_s();
	}
	/* At most once a second: formatting the table is not free. */
	if ((r->dirty && mono_s() != r->last_persist) ||
	    mono_s() - r->last_persist >= PERSIST_EVERY)
		edpg_daemon_persist(r);
}
