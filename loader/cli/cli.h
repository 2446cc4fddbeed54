/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli.h - what every subcommand shares: global options, exit codes and the
 * "load the rules data and compile it" pipeline.
 */
#ifndef EDPG_CLI_H
#define EDPG_CLI_H

#include <stdbool.h>

#include "bpfmaps.h"
#include "pipeline.h"
#include "policy.h"
#include "state.h"
#include "storeconf.h"
#include "sync.h"

#define EDPG_EXIT_OK	0
#define EDPG_EXIT_FAIL	1
#define EDPG_EXIT_USAGE	2

struct edpg_cli {
	const char *rules;	/* --rules */
	const char *state_dir;	/* --state-dir */
	const char *pin_dir;	/* --pin-dir */
	const char *resolvers[8];	/* --resolver ADDR[:PORT], repeatable */
	size_t nresolvers;
	int lock_fd;
	struct edpg_store_conf store;	/* edpgate.conf, --store, --site */
	const char *local_rules;	/* --rules or its default: what the store's replace */
};

extern struct edpg_cli cli;

/* A usage error: prints the message and the command's synopsis; returns
 * EDPG_EXIT_USAGE for `return usage(...)`. */
int usage_err(const char *synopsis, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Subcommands: one file each, do_<name>(argc, argv) with argv[0] = name. */
int do_check(int argc, char **argv);
int do_attach(int argc, char **argv);
int do_detach(int argc, char **argv);
int do_apply(int argc, char **argv);
int do_gateway(int argc, char **argv);
int do_status(int argc, char **argv);
int do_stats(int argc, char **argv);
int do_verify(int argc, char **argv);
int do_run(int argc, char **argv);
int do_dst(int argc, char **argv);
int do_explain(int argc, char **argv);
int do_replay(int argc, char **argv);
int do_watch(int argc, char **argv);
int do_doctor(int argc, char **argv);
int do_up(int argc, char **argv);
int do_upgrade(int argc, char **argv);
int do_enforce(int argc, char **argv);
int do_learn(int argc, char **argv);
/* Switch the attached set to @mode (cmd_enforce.c); 0 or -errno, said. */
int edpg_enforce_switch(struct edpg_ifaces *ifs, const char *mode);
int gateway_pending(int argc, char **argv);	/* cmd_pending.c */
int gateway_pending_add(int argc, char **argv);	/* gateway add --pending MAC */
/*
 * Enrol @g (or, with @replace, change an enrolled one) in @p: saved to the
 * gateways file and pushed live, the result printed.  `gateway add` and
 * `gateway add --pending` both end here.  Under the state-dir lock;
 * returns an exit code.
 */
int gateway_enrol(struct edpg_policy *p, const struct edpg_gateway *g, bool replace);

/* ---- the options as library parameters (ctx.c) ------------------------- */

/* The global options as the pipeline's parameters. */
struct edpg_where edpg_cli_where(void);
/* Path of the gateways file in the state dir. */
void edpg_gateways_path(char *buf, size_t len);
/* edpg_policy_load() with the gateways file of --state-dir. */
int edpg_load_policy(struct edpg_policy *p, const char *rules_path, bool quiet_warnings);
/* edpg_desired_build() with the global options. */
int edpg_build_desired(const struct edpg_policy *p, bool from_cache, struct edpg_desired **out);
/* The whole of @d to both sinks: edpg_sync() without an old state. */
int edpg_push_full(struct edpg_bpf *b, const struct edpg_desired *d, const struct edpg_ifaces *ifs);
/* Open the pinned program of --pin-dir, saying what to do if absent. */
int edpg_open_live(struct edpg_bpf *b);
/*
 * The state-dir lock every changing command takes first (held until exit),
 * so concurrent invocations are serialised; 0 or -errno after saying why.
 */
int cli_lock(void);
/* The interfaces file of --state-dir; 0 or -errno after saying why. */
int cli_ifaces(struct edpg_ifaces *ifs);

/* ---- the shared store (fleet.c) ---------------------------------------- */

/* The `store` lines of @conf (absent and not @conf_given: none), then
 * the --store @words and the --site override; 0 or -errno after saying. */
int cli_store_configure(const char *conf, bool conf_given, const char *words, const char *site);
/* With a store, its rules (STATE/rules.store, written by `edpgate run`)
 * in place of --rules when there are some: the local file is what a
 * router starts from before it ever reached etcd. */
void cli_store_rules(void);
/* Before an enrolment: the site's gateways from etcd become the local
 * file (no store: nothing); 0 or -errno after saying why. */
int cli_store_pull(void);
/* The local file was behind the store: push the change in full. */
bool cli_store_resynced(void);
/* The new gateways-file @text to etcd before anything local; 0 or -errno
 * after saying why (nothing changed). */
int cli_store_commit(const char *text, size_t len);
/* The daemon's store state for `status` (nothing without a store). */
void cli_store_print_status(void);
/* The store's gauges in the Prometheus text format (nothing without one). */
void cli_store_print_prometheus(void);
void cli_store_close(void);

#endif
