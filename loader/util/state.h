/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * state.h - files in the state directory, written so that a crash at any
 * instant leaves either the old or the new file whole.
 */
#ifndef EDPG_STATE_H
#define EDPG_STATE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The files of the state directory, named here once: every module that
 * reads or writes one builds its path with edpg_state_path().
 */
#define EDPG_STATE_GATEWAYS	"gateways"		/* enrolled gateways (rules grammar) */
#define EDPG_STATE_ADDRESSES	"addresses"		/* last-known-good address cache */
/* Beside the cache: the addresses its names returned earlier. */
#define EDPG_RETIRED_SUFFIX	".retired"
#define EDPG_STATE_RETIRED	EDPG_STATE_ADDRESSES EDPG_RETIRED_SUFFIX
#define EDPG_STATE_INTERFACES	"interfaces"		/* the attached interfaces */
#define EDPG_STATE_DNS_SEEN	"dns.seen"		/* answers gateways got (learn) */
#define EDPG_STATE_LOCK		"lock"			/* serialises edpgate invocations */

/* @state_dir/@file into @buf; -ENAMETOOLONG when it does not fit. */
int edpg_state_path(char *buf, size_t len, const char *state_dir, const char *file);

/* Modes of what edpgate creates in the state directory: root only. */
#define EDPG_FILE_MODE	0600
#define EDPG_DIR_MODE	0700

/* Write @len bytes to @path via a temporary file, fsync, rename, fsync dir. */
int edpg_write_atomic(const char *path, const void *buf, size_t len);
/* Read a whole file into a NUL-terminated malloc'd buffer. */
int edpg_read_file(const char *path, char **buf, size_t *len);
/* mkdir -p for the state directory. */
int edpg_mkdir_p(const char *dir, int mode);
/* What to do about a failed write of a state file, for error messages. */
const char *edpg_write_hint(int err);
/* Exclusive lock serialising edpgate invocations; returns an fd (>= 0).
 * Holding it, removes temporary files that killed writers left behind. */
int edpg_lock(const char *state_dir);
void edpg_unlock(int fd);

/*
 * The attached interfaces: one "IFNAME XDPMODE ENFORCE [IFINDEX]" line
 * each.  The ifindex at attach time tells a deleted and re-created
 * interface (new ifindex) from a program detached behind our back.
 */
#define EDPG_MAX_IFACES 16

struct edpg_iface {
	char name[16];
	char xdp_mode[8];	/* native | generic | none */
	char enforce[8];	/* xdp | nft | both */
	int ifindex;		/* at attach; 0 = not recorded (older files) */
};

struct edpg_ifaces {
	struct edpg_iface v[EDPG_MAX_IFACES];
	size_t n;
	/* attach --max-gateways: the maps' gateway capacity, fixed; 0 (the
	 * default): sized to the site and grown with it. */
	uint32_t max_gateways;
};

int edpg_ifaces_load(const char *state_dir, struct edpg_ifaces *out);
int edpg_ifaces_save(const char *state_dir, const struct edpg_ifaces *in);

#endif
