/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * sync.h - the one way a desired state reaches the two sinks.
 *
 * Every policy change (attach, apply, up, detach, the daemon's table
 * changes, gateway add/del/import) hands edpg_sync() the state the sinks
 * hold and the state they should hold.  It chooses a delta or a full
 * push, pushes nftables first and BPF second, and says what failed and
 * what state that left in one set of messages.
 */
#ifndef EDPG_SYNC_H
#define EDPG_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "bpfmaps.h"
#include "nft.h"
#include "policy.h"
#include "state.h"

/* Where the policy goes: the live BPF instance and the attached set. */
struct edpg_sinks {
	struct edpg_bpf *bpf;
	const struct edpg_ifaces *ifs;
	/* Where @bpf is pinned, so its maps can grow with the site; NULL
	 * for an instance that must keep its capacity. */
	const char *pin_dir;
	/* Who grows them (edpg_bpf_make_room()); NULL: this process. */
	edpg_grow_fn grow;
	void *grow_arg;
};

struct edpg_sync_opts {
	/* Push the whole state even when a delta would do: start-up and
	 * reload, where the sinks may hold anything. */
	bool full;
	/* @old and @new are partial (an enrolment's changed gateways, no
	 * destinations): a delta or nothing, -EAGAIN when it cannot carry
	 * the change, never a whole push of such a state.  The caller has
	 * made room for the whole site (edpg_bpf_make_room()). */
	bool delta_only;
	/* What is already durable when a push fails (e.g. "the gateways
	 * file has the change"); NULL: nothing, so a refused nft
	 * transaction changed nothing at all. */
	const char *durable;
};

struct edpg_sync_result {
	bool full;		/* pushed whole (generation swap) */
	size_t ndsts;		/* BPF destinations written by a delta */
	size_t ngws;		/* BPF gateway records written or deleted */
};

/*
 * Make the sinks of @s hold @new, given that they hold @old (NULL:
 * unknown, push whole).  A delta (one nft transaction of element changes,
 * in-place BPF writes of the live generation, no swap) when @old and @new
 * differ only in exact destinations and gateway records; otherwise, or
 * when the delta is refused (someone changed the sinks meanwhile), the
 * whole state: one nft transaction, one BPF generation swap.  nft goes
 * first: its transaction is all or nothing, so when the kernel refuses it
 * BPF is untouched.  Errors are reported here; @o and @r may be NULL.
 */
int edpg_sync(const struct edpg_sinks *s, const struct edpg_desired *old,
	      const struct edpg_desired *new, const struct edpg_sync_opts *o,
	      struct edpg_sync_result *r);

/* The enforcement mode word of the interfaces file and --enforce:
 * xdp, nft, both or audit; -EINVAL for anything else. */
int edpg_enforce_parse(const char *word, enum edpg_enforce *out);
const char *edpg_enforce_name(enum edpg_enforce e);
/* The mode of the attached set (both when nothing is attached). */
enum edpg_enforce edpg_enforce_of(const struct edpg_ifaces *ifs);
/* edpg_config.flags the program gets for @d under the attached set's
 * mode: the rules' actions, plus EDPG_F_AUDIT in audit mode. */
uint32_t edpg_bpf_flags_for(const struct edpg_desired *d, const struct edpg_ifaces *ifs);

/* nft options (interfaces, enforcement) of the attached set; @names
 * must hold EDPG_MAX_IFACES pointers. */
void edpg_nft_opts_from(const struct edpg_ifaces *ifs, struct edpg_nft_opts *o, const char **names);

#endif
