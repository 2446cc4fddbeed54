/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * prefault.h - fault in, with one call, a large buffer about to be filled.
 *
 * A site of 10,000 gateways and addresses fills a few MB of fresh arrays on
 * every command; touched one page at a time that is one page fault per
 * 4 kB, and a fault is the expensive part where the router is a VM (10 us
 * each under some hypervisors, twenty times the cost of populating the
 * same page in bulk).  MADV_POPULATE_WRITE (Linux 5.14) maps the pages in
 * one go; it is only a hint: on an older kernel, or when it fails, the
 * pages are faulted in one by one as before.  Nothing else changes.
 *
 * Header-only, libc only: the pure parsers and compile (fuzzed, linked
 * without the rest of loader/) use it as they are.
 */
#ifndef EDPG_PREFAULT_H
#define EDPG_PREFAULT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Below this the faults cost less than the call. */
#define EDPG_PREFAULT_MIN	(64 * 1024)

static inline void edpg_prefault(void *p, size_t len)
{
	static size_t page;
	uintptr_t start, end;

	if (!p || len < EDPG_PREFAULT_MIN)
		return;
	if (!page) {
		long v = sysconf(_SC_PAGESIZE);

		page = v > 0 ? (size_t)v : 4096;
	}
	/* Whole pages inside the buffer: its neighbours are not ours to touch. */
	start = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
	end = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
	if (end > start)
		(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

/*
 * realloc() for an array that grows by doubling: a large one moves into a
 * new block faulted in first, then the old contents are copied in (realloc
 * would copy into pages faulted one by one).  Like realloc, NULL leaves @p
 * as it was.  @used: the bytes of @p worth keeping.
 */
static inline void *edpg_realloc_prefault(void *p, size_t used, size_t size)
{
	void *n;

	if (size < EDPG_PREFAULT_MIN)
		return realloc(p, size);
	n = malloc(size);
	if (!n)
		return NULL;
	edpg_prefault(n, size);
	if (p) {
		__builtin_memcpy(n, p, used < size ? used : size);
		free(p);
	}
	return n;
}

#endif
