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
 * It also keeps the attachment itself (keeper.c): what went missing is
 * logged and restored (pins again from the live objects, or the program
 * loaded again, links re-created, the policy pushed whole), what it cannot
 * restore is logged once, and "resolved" when it comes right.
 *
 * This file is the wiring and the loop: the schedule is refresh.c, the
 * snooped messages go through intake.c, the cache through cachewriter.c,
 * the pushes through edpg_sync() (sync.c).
 *
 * SIGHUP reloads the rules data atomically (a broken file leaves the old
 * policy live and says why); SIGTERM/SIGINT exit leaving the filter as it
 * is.  The state-dir lock is held only while pushing, so the other
 * commands keep working while the daemon runs.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cachewriter.h"
#include "cli.h"
#include "intake.h"
#include "keeper.h"
#include "log.h"
#include "names.h"
#include "privilege.h"
#include "refresh.h"
#include "resolver.h"
#include "rules.h"
#include "snoop.h"

static const char synopsis[] = "run [--resolve-floor SECONDS]";

#define PERSIST_EVERY	30	/* s: last_used stamps reach the cache file */

struct run {
	struct edpg_where w;
	struct edpg_policy p;
	struct edpg_names n;
	struct edpg_desired *d;		/* what the sinks hold */
	struct edpg_bpf b;
	struct edpg_ifaces ifs;
	struct edpg_resolver *rv;
	struct edpg_snoop *snoop;
	struct edpg_intake in;
	struct edpg_refresh sched;
	struct edpg_keeper keeper;
	struct edpg_cache_writer *writer;	/* NULL: written inline */
	char cache[PATH_MAX];
	bool dirty;			/* table pushed, cache not yet written */
	uint64_t last_persist;
	uint64_t last_used_poll;
	bool push_again;		/* the push after a restore failed */
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

static int persist(struct run *r)
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
static int push(struct run *r, bool full)
{
	struct edpg_sinks s = { .bpf = &r->b, .ifs = &r->ifs };
	struct edpg_sync_opts o = { .full = full };
	struct edpg_desired *d = NULL;
	int err, fd;

	err = build(r, &d);
	if (err)
		return edpg_err(err, "cannot compile the destination table");
	fd = edpg_lock(r->w.state_dir);
	if (fd < 0) {
		edpg_desired_put(d);
		return fd;
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
	edpg_unlock(fd);
	edpg_desired_put(d);
	return err;
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

/* SIGHUP (or a failed delta): the rules data again, all or nothing. */
static int reload(struct run *r, const char *why)
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

/* ---- the attachment ---------------------------------------------------- */

/* Open (again) the snooper's ring, feeding the intake. */
static int open_snooper(struct run *r)
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
static void watch_attachment(struct run *r)
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
static int setup_table(struct run *r, uint64_t now)
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

static int setup(struct run *r)
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

static void teardown(struct run *r)
{
	edpg_cache_writer_stop(r->writer);
	edpg_snoop_close(r->snoop);
	edpg_keeper_free(&r->keeper);
	edpg_resolver_free(r->rv);
	edpg_desired_put(r->d);
	edpg_names_free(&r->n);
	edpg_policy_free(&r->p);
	edpg_bpf_close(&r->b);
	edpg_refresh_free(&r->sched);
	free(r->in.qs);
}

/* Milliseconds until the next thing to do (at most one second: the
 * last_used stamps are read every second). */
static int next_timeout(const struct run *r, uint64_t now_ns)
{
	uint64_t next = now_ns / 1000000000ULL + 1, x;
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

static void report_latency(struct run *r)
{
	uint64_t now = mono_ns();

	for (size_t i = 0; i < r->in.npending; i++)
		edpg_debug("snoop-to-map %llu us",
			   (unsigned long long)(now - r->in.pending_ts[i]) / 1000);
	r->in.npending = 0;
}

/* Signals: SIGHUP reloads; 1 for SIGTERM/SIGINT (exit). */
static int on_signals(struct run *r, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(r, "SIGHUP");
			continue;
		}
		edpg_info("%s: exiting; the filter stays as it is",
			  si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
		persist(r);
		return 1;
	}
	return 0;
}

/* One wake-up's work after the signals. */
static void tick(struct run *r, bool links)
{
	int ch, c;

	/* Snooped answers first: a gateway is waiting on them. */
	if (r->snoop && edpg_snoop_consume(r->snoop) > 0 && r->in.changed) {
		r->in.changed = false;
		if (push(r, false))
			reload(r, "push failed");
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
		reload(r, "push failed");
	/* At most once a second: formatting the table is not free. */
	if ((r->dirty && mono_s() != r->last_persist) ||
	    mono_s() - r->last_persist >= PERSIST_EVERY)
		persist(r);
}

static int loop(struct run *r, int sfd)
{
	struct pollfd pfd[3];
	int n;

	for (;;) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = r->snoop ? edpg_snoop_fd(r->snoop) : -1;
		pfd[1].events = POLLIN;
		pfd[2].fd = edpg_keeper_fd(&r->keeper);
		pfd[2].events = POLLIN;
		n = poll(pfd, 3, next_timeout(r, mono_ns()));
		if (n < 0 && errno != EINTR)
			return edpg_err(-errno, "poll");
		if (on_signals(r, sfd))
			return 0;
		tick(r, n > 0 && pfd[2].fd >= 0 && pfd[2].revents);
	}
}

int do_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "resolve-floor", required_argument, NULL, 'f' },
		{}
	};
	struct run r = { .sched.floor = EDPG_RETRY_MIN };
	sigset_t set;
	int c, err, sfd, ret = EDPG_EXIT_FAIL;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			r.sched.floor = strtoul(optarg, &end, 10);
			if (*end || r.sched.floor < 1 || r.sched.floor > 86400)
				return usage_err(synopsis, "--resolve-floor must be 1..86400");
			break;
		default:
			return usage_err(synopsis, "unknown option");
		}
	}
	if (optind != argc)
		return usage_err(synopsis, "run takes no arguments");
	r.w = edpg_cli_where();
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
	r.b.prog_fd = -1;
	for (int i = 0; i < EDPG_M_MAX; i++)
		r.b.map_fd[i] = -1;
	for (int i = 0; i < EDPG_SNOOP_NPINS; i++)
		r.keeper.snoop_fd[i] = -1;
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
	if (!loop(&r, sfd))
		ret = EDPG_EXIT_OK;
out:
	teardown(&r);
	close(sfd);
	return ret;
}
