// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * trafficgen.bpf.c - the live-traffic generator of `make bench`.
 *
 * Run with BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES, every
 * repetition is a real frame: XDP_TX transmits it out of the device named
 * by ctx_in.ingress_ifindex, which for a veth means into its peer.  It
 * counts nothing on purpose: the benchmark counts at the receiver, never
 * at the generator.
 *
 * Why it writes the headers every time: the test run recycles its pages,
 * and the kernel copies the frame into a page only when the page is new.
 * A frame that a router forwarded comes back with the router's rewrites
 * (next-hop MACs, TTL - 1, checksum), so without this every later frame
 * would be addressed to the wrong host or die of an expired TTL.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define HDR_LEN	34	/* Ethernet + IPv4 header: all a router rewrites */

/* Set by the loader between open and load. */
const volatile __u16 frame_hdr[HDR_LEN / 2] = {};

SEC("xdp")
int edpgate_trafficgen(struct xdp_md *ctx)
{
	__u16 *p = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	int i;

	if ((void *)p + HDR_LEN > end)
		return XDP_ABORTED;
#pragma unroll
	for (i = 0; i < HDR_LEN / 2; i++)
		p[i] = frame_hdr[i];
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
