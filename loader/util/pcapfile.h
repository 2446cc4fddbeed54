/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * pcapfile.h - a strict reader of pcap and pcapng captures held in memory,
 * for `edpgate replay`.  Pure (no I/O) so that it can be fuzzed: every
 * length in the file is checked against what is left before it is used.
 *
 * pcap: both byte orders, microsecond and nanosecond magic.  pcapng: any
 * number of sections of either byte order, interface descriptions,
 * enhanced and simple packet blocks; other blocks are skipped.  Only
 * Ethernet interfaces are accepted (a capture on `any` is cooked SLL).
 */
#ifndef EDPG_PCAPFILE_H
#define EDPG_PCAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDPG_PCAP_MAX_IFACES	64
#define EDPG_PCAP_MAX_FRAME	262144	/* what tcpdump's snaplen allows */

struct edpg_pcap {
	const uint8_t *buf;
	size_t len, off;
	bool ng;		/* pcapng */
	bool swap;		/* file (or section) byte order is not ours */
	uint32_t linktype;	/* pcap */
	uint32_t snaplen;	/* pcap */
	size_t nifaces;		/* pcapng, current section */
	uint16_t iface_link[EDPG_PCAP_MAX_IFACES];
	uint32_t iface_snap[EDPG_PCAP_MAX_IFACES];
	uint64_t nframes;
	char err[160];		/* what is wrong and where, after an error */
};

struct edpg_pcap_frame {
	const uint8_t *data;	/* points into the buffer */
	uint32_t caplen, len;	/* captured and on-the-wire length */
};

/* Check the file header; -EINVAL with r->err set when it is no capture. */
int edpg_pcap_open(struct edpg_pcap *r, const uint8_t *buf, size_t len);
/* The next frame: 1, 0 at the end, -EINVAL with r->err set. */
int edpg_pcap_next(struct edpg_pcap *r, struct edpg_pcap_frame *f);

#endif
