/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * intake.h - the daemon's intake of what the DNS snooper saw: questions
 * the gateways asked go into the question ring, answers into the table
 * (only answers to a question asked, when the snooper sees questions).
 */
#ifndef EDPG_INTAKE_H
#define EDPG_INTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "names.h"
#include "seen.h"
#include "snoop.h"

#define EDPG_INTAKE_PENDING	64

struct edpg_intake {
	struct edpg_names *n;
	struct edpg_questions *qs;
	bool match;		/* answers must match a question in @qs */
	bool changed;		/* the table changed: push */
	/* snooped answers waiting for the push, for the latency figure */
	uint64_t pending_ts[EDPG_INTAKE_PENDING];
	size_t npending;
	uint64_t (*clock)(void);	/* table seconds */
	/* Every answer's addresses under the name asked (edpgate learn);
	 * NULL: not kept. */
	struct edpg_seen *seen;
	edpg_names_log_fn log;
	void *log_ctx;
};

/* The snooper's callback (edpg_snoop_fn) with @ctx an edpg_intake. */
int edpg_intake_event(void *ctx, const struct edpg_snoop_event *ev);

#endif
