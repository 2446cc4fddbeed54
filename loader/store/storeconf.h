/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * storeconf.h - where the shared store is: the `store` lines of
 * edpgate.conf (or the same words given as --store), parsed without I/O
 * but reading the text.
 *
 *   store etcd URL[,URL...] prefix P site S [router R]
 *   store user U password-file FILE
 *   store ca FILE cert FILE key FILE
 *
 * Every `store` line adds its KEY VALUE pairs; `#` starts a comment.
 * No `store` line = no store: today's local files, unchanged.
 */
#ifndef EDPG_STORECONF_H
#define EDPG_STORECONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define EDPG_STORE_MAX_URLS	8
#define EDPG_STORE_WORD		128	/* a prefix, site, router or user name */

struct edpg_store_conf {
	bool configured;
	char urls[EDPG_STORE_MAX_URLS][256];
	size_t nurls;
	char prefix[EDPG_STORE_WORD];	/* no trailing '/' */
	char site[EDPG_STORE_WORD];
	char router[EDPG_STORE_WORD];	/* default: the host name */
	char user[EDPG_STORE_WORD];
	char password_file[PATH_MAX];
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
};

/*
 * Add the `store` words of @text (from @file, for FILE:LINE:COL errors
 * printed to stderr) to @c.  Lines that do not start with `store` belong
 * to other readers and are skipped.  0 or -EINVAL.
 */
int edpg_store_conf_parse(struct edpg_store_conf *c, const char *file, const char *text);
/* After every source is parsed: what must be there is (urls, prefix,
 * site), the router name defaulted; 0 or -EINVAL after saying what. */
int edpg_store_conf_finish(struct edpg_store_conf *c, const char *from);

#endif
