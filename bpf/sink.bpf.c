// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sink.bpf.c - the receiving end of the live-traffic benchmark: counts a
 * frame in a per-CPU counter and drops it.  On the router's LAN veth it is
 * the floor (the cheapest XDP program that can still be measured by the
 * kernel's own count); on the sink host's veth it counts what the router
 * forwarded, without a network stack that would answer (RST, ICMP) and
 * send traffic back through the router.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sink_count SEC(".maps");

SEC("xdp")
int edpgate_sink(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&sink_count, &zero);

	if (n)
		*n += 1;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
