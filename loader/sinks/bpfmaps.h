/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * bpfmaps.h - the BPF sink: load/pin/attach the XDP program
 * (bpf_object.c), write a compiled desired state into its maps
 * (bpfmaps.c), read counters and state back (bpf_read.c), replace the
 * program in place (bpf_upgrade.c); the pins as the kernel sees them are
 * in bpf_pins.h.  Everything above the sink reaches the data path through
 * these functions, never through a map.
 */
#ifndef EDPG_BPFMAPS_H
#define EDPG_BPFMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

enum edpg_map_id {
	EDPG_M_CTL,
	EDPG_M_CONFIG,
	EDPG_M_GATEWAYS,
	EDPG_M_GW_FILTER,	/* bits of enrolled MACs: set before the record */
	EDPG_M_PORTS,
	EDPG_M_SERVICES,
	EDPG_M_DST4,
	EDPG_M_DST6,
	EDPG_M_CIDR4,
	EDPG_M_CIDR6,
	EDPG_M_GW_STATS,
	EDPG_M_GLOBAL,
	EDPG_M_GW_COLD,		/* drop counts and records: never shared */
	EDPG_M_EV_GLOBAL,
	EDPG_M_EVENTS,
	EDPG_M_PENDING,
	EDPG_M_LEARN,
	EDPG_M_MAX,
};

extern const char *const edpg_map_names[EDPG_M_MAX];
extern const char *const edpg_reason_names[EDPG_R_MAX];

/*
 * The counters a growth of the maps carried from the instance it
 * replaced (bpf_grow.c): a hash of slot -> struct edpg_gw_stats summed
 * over the CPUs, added by every reader.  Not a map of the program (it
 * never reads it): pinned beside the others only once the maps grew.
 */
#define EDPG_CARRY_PIN	"edpg_gw_carry"

/*
 * An open instance.  Its fields are the sink's: code above loader/sinks/
 * holds one (on the stack) and passes it to the functions here, and
 * reads nothing in it (edpg_bpf_capacity, edpg_bpf_has_prog); scripts/check-layers.sh
 * fails on a field read outside sinks/.
 */
struct edpg_bpf {
	int prog_fd;
	int map_fd[EDPG_M_MAX];
	uint32_t max_gateways;	/* edpg_gw_stats max_entries = slot space */
	int carry_fd;		/* EDPG_CARRY_PIN, -1 until the maps first grew */
	int ncpus;
	void *skel;		/* struct edpgate * when this process loaded it */
};

struct edpg_load_opts {
	uint32_t max_gateways;	/* 0 = EDPG_MAX_GATEWAYS */
	uint32_t max_dst;	/* 0 = EDPG_MAX_DST */
};

enum edpg_xdp_mode {
	EDPG_XDP_AUTO,
	EDPG_XDP_NATIVE,
	EDPG_XDP_GENERIC,
};

/* Open the pinned program and maps; -ENOENT when nothing is pinned,
 * -EPROTO when their layout is not this build's. */
int edpg_bpf_open_pinned(struct edpg_bpf *b, const char *pin_dir);
/*
 * Set by read-only commands: edpg_bpf_open_pinned() opens the maps with
 * BPF_F_RDONLY, and a program pin it may not open (the kernel wants
 * write access for those) leaves prog_fd -1 instead of failing.
 */
extern bool edpg_pins_rdonly;
/*
 * A long-lived holder (the daemon) after another command may have grown
 * the maps: @b reopened on the pins when they are another instance than
 * @b's.  1 when it was, 0 when @b is current, -errno.
 */
int edpg_bpf_follow(struct edpg_bpf *b, const char *pin_dir);
/* Load a fresh instance and pin it (program, maps) under @pin_dir. */
int edpg_bpf_load_and_pin(struct edpg_bpf *b, const char *pin_dir, const struct edpg_load_opts *o);
/*
 * Load a private instance (nothing pinned) whose policy maps are the
 * pinned ones of @b when @b is non-NULL, with its own counters: used to
 * ask the real program a question without touching live counters.
 */
int edpg_bpf_load_private(struct edpg_bpf *out, const struct edpg_bpf *share, const struct edpg_load_opts *o);
/* Nothing open yet: edpg_bpf_close() is then a no-op. */
void edpg_bpf_init(struct edpg_bpf *b);
void edpg_bpf_close(struct edpg_bpf *b);
/* Remove every pin under @pin_dir and the directory itself. */
int edpg_bpf_unpin_all(const char *pin_dir);

/* XDP attachment through a bpf_link pinned as @pin_dir/link_IFNAME. */
int edpg_bpf_attach(struct edpg_bpf *b, const char *pin_dir, const char *ifname,
		    enum edpg_xdp_mode mode, enum edpg_xdp_mode *used);
int edpg_bpf_detach(const char *pin_dir, const char *ifname);
bool edpg_bpf_is_attached(const char *pin_dir, const char *ifname);
/* Where the link of @ifname is pinned (names are percent-encoded). */
void edpg_bpf_link_path(char *path, size_t len, const char *pin_dir, const char *ifname);

/* Replace the whole policy atomically (generation swap). */
int edpg_bpf_apply(struct edpg_bpf *b, const struct edpg_desired *d);
/* Single gateway changes in the live generation (no reload, no swap). */
int edpg_bpf_gw_put(struct edpg_bpf *b, const struct edpg_want_gw *g);
int edpg_bpf_gw_del(struct edpg_bpf *b, const uint8_t mac[6]);

/* 0 when @ngws gateways fit in @b's slots; else -ENOSPC, said how to make room. */
int edpg_bpf_room(const struct edpg_bpf *b, size_t ngws);

/* ---- gateway capacity (bpf_grow.c) -------------------------------------- */

/* The smallest capacity the maps start with. */
#define EDPG_MIN_CAPACITY	64

struct edpg_ifaces;

/* The capacity the maps get for a site of @ngws gateways: a power of two
 * with room for 1.5 times the site, EDPG_MIN_CAPACITY..EDPG_MAX_GATEWAYS. */
uint32_t edpg_bpf_capacity_for(size_t ngws);

struct edpg_grown {
	uint32_t old_cap, new_cap;
	size_t nlinks;		/* XDP links switched */
	unsigned int snoop_ifaces;	/* interfaces whose snooper was switched */
};

/*
 * Replace the capacity-sized maps of the pinned instance @b with ones of
 * @cap slots (gateways and counters copied, every other map shared) and
 * switch every link and the snooper to the new program; @b then holds
 * the new instance.  Nothing changes on an error.
 */
int edpg_bpf_grow(struct edpg_bpf *b, const char *pin_dir, const struct edpg_ifaces *ifs,
		  uint32_t cap, struct edpg_grown *g);
/*
 * A growth killed between pinning its maps and renaming them over the
 * old pins: finished when the pinned program already runs on them, else
 * the links it switched put back on the pinned program and its maps
 * dropped.  Called by whoever takes the state lock (a growth
 * runs under it), before it opens the pins.
 */
int edpg_bpf_finish_growth(const char *pin_dir, const struct edpg_ifaces *ifs);
/*
 * Who grows the pinned maps to @cap slots, leaving the pins on the grown
 * instance: edpg_bpf_make_room() opens them after it (the daemon's
 * helper, grower.h, which holds the capabilities a load needs).
 */
typedef int (*edpg_grow_fn)(void *arg, uint32_t cap, struct edpg_grown *g);
/*
 * edpg_bpf_room(), growing @b first when @ngws do not fit and the
 * capacity may grow (no --max-gateways, below EDPG_MAX_GATEWAYS): by
 * @grow when set, else in this process.  A NULL @pin_dir only checks.
 */
int edpg_bpf_make_room(struct edpg_bpf *b, const char *pin_dir, const struct edpg_ifaces *ifs,
		       size_t ngws, edpg_grow_fn grow, void *grow_arg);
int edpg_bpf_active_gen(const struct edpg_bpf *b, uint32_t *gen);

/* ---- single destinations in the live generation (bpfdst.c, no swap) ---- */

/* Put @a (exact) with @groups; an existing key is updated in place and
 * keeps its last_used stamp. */
int edpg_bpf_dst_put(struct edpg_bpf *b, const struct edpg_addr *a, uint64_t groups);
int edpg_bpf_dst_del(struct edpg_bpf *b, const struct edpg_addr *a);
/* last_used (CLOCK_MONOTONIC_COARSE ns) of @a in the live generation. */
int edpg_bpf_dst_last_used(const struct edpg_bpf *b, const struct edpg_addr *a, uint64_t *ns);
/* The same for @n addresses into @ns (0: absent or never used). */
int edpg_bpf_dst_last_used_many(const struct edpg_bpf *b, const struct edpg_addr *a, size_t n,
				uint64_t *ns);
/* Live gateway record by MAC (slot included); -ENOENT if not enrolled. */
int edpg_bpf_gw_get(const struct edpg_bpf *b, const uint8_t mac[6], struct edpg_gw *out);
/* Counters summed over CPUs. */
int edpg_bpf_gw_stats(const struct edpg_bpf *b, uint32_t slot, struct edpg_gw_stats *out);
int edpg_bpf_global(const struct edpg_bpf *b, struct edpg_global out[EDPG_R_MAX]);

/*
 * Read the live generation back as a desired state (for verify, status
 * and diffs): gateways, services, ports, destinations.  Caller frees with
 * edpg_desired_free().
 */
int edpg_bpf_read_live(const struct edpg_bpf *b, struct edpg_desired *out);

/* Data-path time (CLOCK_MONOTONIC_COARSE ns) -> wall clock seconds (0 stays 0). */
int64_t edpg_dp_time_to_wall(uint64_t dp_ns);

/*
 * Put @n gateways into the live generation: one read of the slot map, one
 * bpf_map_update_batch() (bulk enrolment).  Live gateways keep their slot.
 */
int edpg_bpf_gw_put_many(struct edpg_bpf *b, const struct edpg_want_gw *v, size_t n);

/* A loaded program's id (@id may be NULL) and tag in hex. */
int edpg_bpf_prog_ident(int fd, uint32_t *id, char tag[17]);

struct edpg_upgrade {
	uint32_t old_id, new_id;	/* program ids */
	char old_tag[17], new_tag[17];
	size_t nlinks;			/* links switched to the new program */
	bool same;			/* same code: nothing was switched */
};

/*
 * Replace the pinned program with this build's without a gap: check the
 * pinned maps' layout (BTF member by member), load this build over the
 * very same maps (entries and counters kept), switch every pinned XDP link
 * with bpf_link_update(BPF_F_REPLACE) and re-pin `prog` by rename.  A
 * changed layout is refused with nothing changed.
 */
int edpg_bpf_upgrade(const char *pin_dir, struct edpg_upgrade *u);

/* ---- readers (bpf_read.c) ----------------------------------------------- */

struct edpg_addr;

/* The exact destination entry of @a in the active generation; -ENOENT
 * when there is none. */
int edpg_bpf_dst_get(const struct edpg_bpf *b, const struct edpg_addr *a, struct edpg_dst *out);
/* Live destination groups of @a in the active generation: exact entry and
 * longest static prefix (0 when none). */
int edpg_bpf_dst_groups(const struct edpg_bpf *b, const struct edpg_addr *a, uint64_t *exact,
			uint64_t *cidr);
/* Service id (or -1) the active generation maps (proto, port) to. */
int edpg_bpf_port_service(const struct edpg_bpf *b, uint8_t proto, uint16_t port, int *sid);
/* Groups the live service @sid may reach. */
int edpg_bpf_service_groups(const struct edpg_bpf *b, int sid, uint64_t *groups);

/* A gateway's drop records and event bucket, merged over CPUs: counts
 * summed, for each reason the record with the latest time. */
int edpg_bpf_gw_diag(const struct edpg_bpf *b, uint32_t slot, struct edpg_gw_diag *out);
/* The unknown-MAC event bucket, summed over CPUs. */
int edpg_bpf_ev_global(const struct edpg_bpf *b, struct edpg_ev_bucket *out);

struct edpg_pending_ent {
	uint8_t mac[6];
	struct edpg_pending p;	/* merged over CPUs */
};

/* Unknown MACs that tried a known port, latest first; caller frees *out. */
int edpg_bpf_pending_list(const struct edpg_bpf *b, struct edpg_pending_ent **out, size_t *n);
/* Forget a pending MAC (after its enrolment); -ENOENT when not held. */
int edpg_bpf_pending_del(const struct edpg_bpf *b, const uint8_t mac[6]);

/* One frame through @b's program (BPF_PROG_TEST_RUN: nothing is sent);
 * its XDP return code in *retval. */
int edpg_bpf_test_run(const struct edpg_bpf *b, const void *frame, size_t len, uint32_t *retval);

struct edpg_learn_ent {
	struct edpg_learn_key k;
	struct edpg_learn l;
};

/* Every record of edpg_learn (at most EDPG_MAX_LEARN); caller frees *out. */
int edpg_bpf_learn_list(const struct edpg_bpf *b, struct edpg_learn_ent **out, size_t *n);

/* The drop events ring: @fn is called with each record from
 * edpg_bpf_events_poll(); a non-zero return stops that poll. */
struct edpg_bpf_events;
typedef int (*edpg_bpf_event_fn)(void *ctx, const void *data, size_t len);
int edpg_bpf_events_open(const struct edpg_bpf *b, edpg_bpf_event_fn fn, void *ctx,
			 struct edpg_bpf_events **out);
/* Records consumed, or -errno (-EINTR on a signal). */
int edpg_bpf_events_poll(struct edpg_bpf_events *ev, int timeout_ms);
void edpg_bpf_events_close(struct edpg_bpf_events *ev);

/* libbpf's messages on stderr: warnings and the verifier log with
 * @verbose only. */
void edpg_bpf_set_log(int verbose);
/* Gateway slots of the loaded program (its counters' size). */
uint32_t edpg_bpf_capacity(const struct edpg_bpf *b);
/* Whether @b has a program open (edpg_pins_rdonly may leave it closed). */
bool edpg_bpf_has_prog(const struct edpg_bpf *b);

#endif
