/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * rtlink.h - the rtnetlink transport for link events: which interface
 * changed or went, as it happens.
 */
#ifndef EDPG_RTLINK_H
#define EDPG_RTLINK_H

#include <stdbool.h>

struct edpg_rtlink;

/* One link event: @name changed (or was @deleted); @up its IFF_UP. */
typedef void (*edpg_rtlink_fn)(void *ctx, const char *name, int ifindex, bool deleted, bool up);

/* Subscribe to RTMGRP_LINK (non-blocking socket); -errno. */
int edpg_rtlink_open(struct edpg_rtlink **out);
int edpg_rtlink_fd(const struct edpg_rtlink *l);
/* Every pending event to @fn; -ENOBUFS when some were lost (look anyway). */
int edpg_rtlink_read(struct edpg_rtlink *l, edpg_rtlink_fn fn, void *ctx);
void edpg_rtlink_close(struct edpg_rtlink *l);

#endif
