/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * pipeline.h - rules data -> policy -> names -> desired state, for every
 * command that changes the policy; edpg_sync() (sync.h) takes it from
 * there to the sinks.
 */
#ifndef EDPG_PIPELINE_H
#define EDPG_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "bpfmaps.h"
#include "policy.h"
#include "state.h"

/* Where the rules data, the state and the pins are, and which resolvers
 * to ask (none: the system's). */
struct edpg_where {
	const char *rules;
	const char *state_dir;
	const char *pin_dir;
	const char *const *resolvers;
	size_t nresolvers;
};

/*
 * Parse the rules file and the gateways file of @state_dir into @p.
 * Diagnostics are printed as FILE:LINE:COL; on any error nothing is
 * returned and the caller must change nothing.
 */
int edpg_policy_load(struct edpg_policy *p, const char *rules_path, const char *state_dir,
		     bool quiet_warnings);
/* Names of @p resolved now (and saved as the address cache), or read
 * back from the cache (@from_cache). */
int edpg_policy_names(const struct edpg_policy *p, const struct edpg_where *w, bool from_cache,
		      struct edpg_resolved **out, size_t *n);
void edpg_resolved_free(struct edpg_resolved *r, size_t n);
/* Addresses of the attached interfaces, for @router members. */
int edpg_router_addrs(const struct edpg_ifaces *ifs, struct edpg_addr **out, size_t *n);
/* Compile @p with resolved @names and the @router addresses of @ifs
 * into a heap-allocated desired state. */
int edpg_compile_for(const struct edpg_policy *p, const struct edpg_ifaces *ifs,
		     const struct edpg_resolved *names, size_t nnames, struct edpg_desired **out);
/* The whole pipeline: policy -> names -> desired (heap-allocated). */
int edpg_desired_build(const struct edpg_policy *p, const struct edpg_where *w, bool from_cache,
		       struct edpg_desired **out);
/* Free a desired state from edpg_desired_build() (NULL is fine). */
void edpg_desired_put(struct edpg_desired *d);
/* Open the pinned program, with a message that says what to do if absent. */
int edpg_bpf_open_live(struct edpg_bpf *b, const char *pin_dir);

#endif
