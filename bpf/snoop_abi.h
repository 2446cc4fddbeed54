/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * snoop_abi.h - the ABI between the DNS-answer snooper (snoop.bpf.c) and the
 * daemon: one ring-buffer record per DNS answer sent to an enrolled gateway
 * (TC egress) and per DNS question an enrolled gateway sent (TC ingress):
 * the daemon takes an answer only when it answers a question it saw.
 */
#ifndef EDPG_SNOOP_ABI_H
#define EDPG_SNOOP_ABI_H

#include <linux/types.h>

/* Bytes of DNS payload copied: a 1232-byte EDNS answer (the usual UDP
 * limit) or a full-size TCP segment fits. */
#define EDPG_SNOOP_MAX		1536
#define EDPG_SNOOP_RB_SIZE	(1U << 21)

#define EDPG_SNOOP_PROG_NAME	"edpgate_snoop"
#define EDPG_SNOOP_Q_PROG_NAME	"edpgate_snoop_q"
/* Pins under the pin directory. */
#define EDPG_SNOOP_PIN_PROG	"snoop_prog"
#define EDPG_SNOOP_PIN_PROG_Q	"snoop_prog_q"
#define EDPG_SNOOP_PIN_RB	"edpg_snoop_rb"
#define EDPG_SNOOP_PIN_LOST	"edpg_snoop_lost"

struct edpg_snoop_event {
	__u64 ts;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC at egress */
	__u32 ifindex;
	__u32 len;		/* bytes of data[] used */
	__u8 tcp;		/* 1: a TCP segment (length-prefixed messages) */
	__u8 query;		/* 1: a question from the gateway, 0: an answer to it */
	__u8 pad[2];
	__u8 mac[6];		/* the gateway it came from or went to */
	__u16 port;		/* the gateway's port (host order): the
				 * question's source, the answer's destination */
	__u8 data[EDPG_SNOOP_MAX];	/* the DNS payload (UDP) or segment data (TCP) */
};

_Static_assert(sizeof(struct edpg_snoop_event) == 32 + EDPG_SNOOP_MAX, "edpg_snoop_event");

#endif
