/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * snoop.h - the DNS-answer snooper: attach the TC egress program of
 * bpf/snoop.bpf.c to a LAN interface and consume its ring buffer.
 *
 * The program, its ring buffer and its lost counter are pinned under the pin
 * directory next to the XDP program's maps (one instance serves every
 * attached interface); each interface gets one direct-action filter on its
 * clsact egress hook with a fixed handle and priority, which is how detach
 * finds and removes exactly ours.
 */
#ifndef EDPG_SNOOP_LOADER_H
#define EDPG_SNOOP_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfmaps.h"
#include "snoop_abi.h"
#include "state.h"

/* Our filter on the clsact egress hook (priority must fit 16 bits). */
#define EDPG_SNOOP_TC_HANDLE	0xedb0
#define EDPG_SNOOP_TC_PRIO	0xedb0

/*
 * Load the snooper (once: the pins are reused by later interfaces) with
 * edpg_ctl and edpg_gateways shared from @b, and attach it to @ifname's
 * TC egress hook (replacing an earlier filter of ours).  0 or -errno.
 */
int edpg_snoop_attach(const struct edpg_bpf *b, const char *pin_dir, const char *ifname);
/* Remove our filters from @ifname (0, -ENOENT when there was none). */
int edpg_snoop_detach(const char *ifname);
/* Whether the pinned snooper sees questions (an older one did not): only
 * then may the daemon require an answer to match one. */
bool edpg_snoop_questions(const char *pin_dir);
/* Whether @ifname carries our filter on egress (answers) or, with
 * @questions, on ingress. */
bool edpg_snoop_is_attached(const char *ifname, bool questions);
/* The same without libbpf printing the kernel's error when there is no
 * clsact qdisc (the health check asks once a second). */
bool edpg_snoop_is_attached_quiet(const char *ifname, bool questions);
/* Answers the program could not queue (ring full), summed over CPUs. */
int edpg_snoop_lost(const char *pin_dir, uint64_t *lost);

/* What edpg_snoop_upgrade() found and did. */
struct edpg_snoop_upgrade {
	bool pinned;		/* a snooper was pinned */
	bool upgraded;		/* its code differed and was replaced */
	unsigned int nifaces;	/* interfaces whose filters were switched */
	char old_tag[17], new_tag[17];
};

int edpg_snoop_upgrade(const struct edpg_bpf *b, const char *pin_dir,
		       const struct edpg_ifaces *ifs, bool force, struct edpg_snoop_upgrade *u);

struct edpg_snoop;

/* Called for each record; a negative return stops the current poll. */
typedef int (*edpg_snoop_fn)(void *ctx, const struct edpg_snoop_event *ev);

/* Open the pinned ring buffer; -ENOENT when no snooper is loaded. */
int edpg_snoop_open(struct edpg_snoop **out, const char *pin_dir, edpg_snoop_fn fn, void *ctx);
/* An fd that polls readable when records wait (for epoll/poll). */
int edpg_snoop_fd(const struct edpg_snoop *s);
/* Consume every waiting record (no wait).  Records handled or -errno. */
int edpg_snoop_consume(struct edpg_snoop *s);
void edpg_snoop_close(struct edpg_snoop *s);

#endif
