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
 * This file is the argv, the signals and the loop; the daemon's state and
 * steps are ops/daemon.c.
 *
 * SIGHUP reloads the rules data atomically (a broken file leaves the old
 * policy live and says why); SIGTERM/SIGINT exit leaving the filter as it
 * is.  The state-dir lock is held only while pushing, so the other
 * commands keep working while the daemon runs.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "log.h"
#include "privilege.h"

static const char synopsis[] = "run [--resolve-floor SECONDS]";

/* Signals: SIGHUP reloads; 1 for SIGTERM/SIGINT (exit). */
static int on_signals(struct edpg_daemon *r, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			edpg_daemon_reload(r, "SIGHUP");
			continue;
		}
		edpg_info("%s: exiting; the filter stays as it is",
			  si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
		edpg_daemon_persist(r);
		return 1;
	}
	return 0;
}

/* Until SIGTERM/SIGINT (0) or poll fails (-errno). */
static int loop(struct edpg_daemon *r, int sfd)
{
	struct pollfd pfd[4];
	int n;

	for (;;) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = edpg_daemon_snoop_fd(r);
		pfd[1].events = POLLIN;
		pfd[2].fd = edpg_keeper_fd(&r->keeper);
		pfd[2].events = POLLIN;
		pfd[3].fd = edpg_fleet_fd(r->fleet);
		pfd[3].events = POLLIN;
		n = poll(pfd, 4, edpg_daemon_timeout(r));
		if (n < 0 && errno != EINTR)
			return edpg_err(-errno, "poll");
		if (on_signals(r, sfd))
			return 0;
		if (n > 0 && pfd[3].fd >= 0 && pfd[3].revents)
			edpg_daemon_fleet(r);
		edpg_daemon_tick(r, n > 0 && pfd[2].fd >= 0 && pfd[2].revents);
	}
}

int do_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "resolve-floor", required_argument, NULL, 'f' },
		{}
	};
	struct edpg_where w = edpg_cli_where();
	unsigned long floor = EDPG_RETRY_MIN;
	struct edpg_daemon r;
	sigset_t set;
	int c, err, sfd, ret = EDPG_EXIT_FAIL;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			floor = strtoul(optarg, &end, 10);
			if (*end || floor < 1 || floor > 86400)
				return usage_err(synopsis, "--resolve-floor must be 1..86400");
			break;
		default:
			return usage_err(synopsis, "unknown option");
		}
	}
	if (optind != argc)
		return usage_err(synopsis, "run takes no arguments");
	edpg_daemon_init(&r, &w, floor);
	r.local_rules = cli.local_rules;
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
	/* Before setup starts threads, and before the capabilities go. */
	err = edpg_grower_start(&r.grower, w.pin_dir, w.state_dir);
	if (err)
		goto out;
	err = edpg_daemon_setup(&r);
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
	/* After the limit: capabilities are per thread, the store's too. */
	if (cli.store.configured) {
		err = edpg_fleet_start(&r.fleet, &cli.store, w.state_dir);
		if (err)
			goto out;
	}
	if (!loop(&r, sfd))
		ret = EDPG_EXIT_OK;
out:
	edpg_daemon_teardown(&r);
	close(sfd);
	return ret;
}
