/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cachewriter.h - the address cache written by a thread: an atomic write
 * fsyncs the file and the directory (milliseconds), and a snooped answer
 * arriving meanwhile must not wait for it.  The owner hands over the
 * newest text; an older one not yet written is simply replaced.
 */
#ifndef EDPG_CACHEWRITER_H
#define EDPG_CACHEWRITER_H

#include <stddef.h>

struct edpg_cache_writer;

/* Start the thread writing to @path (kept by pointer); -errno. */
int edpg_cache_writer_start(struct edpg_cache_writer **out, const char *path);
/* Hand over @buf (malloc'ed, the writer frees it) of @len bytes. */
void edpg_cache_writer_put(struct edpg_cache_writer *w, char *buf, size_t len);
/* Stop after writing what it holds, and free (NULL is fine). */
void edpg_cache_writer_stop(struct edpg_cache_writer *w);

#endif
