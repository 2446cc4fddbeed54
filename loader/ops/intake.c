// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * intake.c - snooped DNS messages into the destination table.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "intake.h"
#include "log.h"

int edpg_intake_event(void *ctx, const struct edpg_snoop_event *ev)
{
	size_t len = ev->len < EDPG_SNOOP_MAX ? ev->len : EDPG_SNOOP_MAX;
	struct edpg_intake *in = ctx;
	int c;

	if (ev->query) {
		c = edpg_names_asked(in->n, in->qs, ev->mac, ev->port, ev->data, len, ev->tcp,
				     in->clock());
		if (c < 0)
			edpg_debug("snooped DNS question ignored: %s", strerror(-c));
		return 0;
	}
	/* Before the rules filter: what learn needs is exactly the names
	 * the rules do not have. */
	if (in->seen) {
		c = edpg_seen_answer(in->seen, ev->mac, ev->data, len, ev->tcp, time(NULL));
		if (c < 0)
			edpg_debug("snooped DNS answer not kept for learn: %s", strerror(-c));
	}
	c = edpg_names_snooped(in->n, in->match ? in->qs : NULL, ev->mac, ev->port, ev->data,
			       len, ev->tcp, in->clock(), in->log, in->log_ctx);
	if (c == -EPERM) {
		char mac[EDPG_MAC_STRLEN];

		/* Debug only: whoever forges answers must not fill the log. */
		edpg_mac_format(ev->mac, mac);
		edpg_debug("ignored a DNS answer to %s port %u: it answers no question the gateway asked",
			   mac, ev->port);
	} else if (c > 0) {
		in->changed = true;
		if (in->npending < EDPG_INTAKE_PENDING)
			in->pending_ts[in->npending++] = ev->ts;
	} else if (c < 0 && c != -ENOENT) {
		edpg_debug("snooped DNS message ignored: %s", strerror(-c));
	}
	return 0;
}
