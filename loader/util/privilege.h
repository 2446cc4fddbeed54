/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * privilege.h - capabilities each command needs, the daemon's drop to
 * its steady-state set, and validation of names and paths from the
 * command line.
 */
#ifndef EDPG_PRIVILEGE_H
#define EDPG_PRIVILEGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/capability.h>

#define EDPG_CAP(c)	(1ULL << (c))
/* Reading pinned maps: any bpf() call needs CAP_BPF (or CAP_SYS_ADMIN,
 * which implies it on kernels before 5.8). */
#define EDPG_NEED_READ	EDPG_CAP(CAP_BPF)
/* Changing state: loading, attaching, map updates and nf_tables. */
#define EDPG_NEED_WRITE	(EDPG_CAP(CAP_BPF) | EDPG_CAP(CAP_NET_ADMIN))

/*
 * What `edpgate run` keeps after start-up: CAP_BPF for map updates and
 * reopening or re-pinning its objects, CAP_NET_ADMIN for nf_tables and
 * re-attaching the XDP link and the TC snooper it holds.  Found by running
 * the daemon's whole repertoire (SIGHUP reload, names refresh, snooping,
 * re-attach after pins removed / interface re-created) with only these:
 * it loads no program after start-up, so it needs no CAP_PERFMON, and
 * bpffs is mounted by attach, so no CAP_SYS_ADMIN.  The one load it may
 * need, a growth of the gateway maps, is its helper's (grower.h).
 */
#define EDPG_RUN_CAPS	(EDPG_CAP(CAP_BPF) | EDPG_CAP(CAP_NET_ADMIN))

/* The effective and permitted capability sets of this process. */
int edpg_caps_get(uint64_t *eff, uint64_t *prm);
/*
 * 0 if the effective set holds every capability in @needs; otherwise
 * prints "edpgate @what needs CAP_A and CAP_B (run as root)" naming what
 * is missing and returns -EPERM.
 */
int edpg_caps_require(const char *what, uint64_t needs);
/*
 * Keep only @keep: drop the rest from the bounding set, clear the
 * ambient and inheritable sets, set no_new_privs, and make the permitted
 * and effective sets exactly @keep.  For a long-running process after
 * its start-up; irreversible.  @keep is narrowed to the permitted set.
 */
int edpg_caps_limit(uint64_t keep);
/* "CAP_BPF, CAP_NET_ADMIN" for @caps into @buf. */
const char *edpg_caps_names(uint64_t caps, char *buf, size_t len);

/*
 * Validators: 0 or -EINVAL with the reason in @why (a constant string).
 * No I/O: these are what the unit tests exercise.
 */
int edpg_valid_ifname(const char *name, const char **why);
int edpg_valid_abs_path(const char *path, const char **why);

/* With messages for the command line: an interface name that must also
 * exist, and the global --pin-dir / --state-dir / --rules. */
int edpg_check_ifname(const char *name, bool must_exist);
int edpg_check_pin_dir(const char *path);
int edpg_check_path_opt(const char *opt, const char *path, bool absolute);

#endif
