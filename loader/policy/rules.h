/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * rules.h - the rules data parser.  Pure: text in, struct edpg_policy and
 * diagnostics out; no file or network I/O, so it can be unit-tested and
 * fuzzed on any input.  The grammar is documented in edpgate.rules(5).
 */
#ifndef EDPG_RULES_H
#define EDPG_RULES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define EDPG_DIAG_WARNING	0
#define EDPG_DIAG_ERROR		1

struct edpg_diag {
	int severity;		/* EDPG_DIAG_* */
	char *file;
	int line, col;		/* 1-based; col counts bytes and points at the token */
	char *msg;
};

/* Zero-initialise; every parse call appends.  Sorted by position per call. */
struct edpg_diags {
	struct edpg_diag *v;
	size_t n, nerrors, nwarnings;
	size_t cap;		/* allocated entries of v (internal) */
};

void edpg_diags_free(struct edpg_diags *d);
/* Append one diagnostic (counted even when it cannot be stored); 0 or -ENOMEM. */
int edpg_diags_vadd(struct edpg_diags *d, int sev, const char *file, int line, int col,
		    const char *fmt, va_list ap);
/* Stable sort of v[0..n) by position (left unsorted when out of memory). */
void edpg_diags_sort(struct edpg_diag *v, size_t n);
/* "FILE:LINE:COL: error: msg"; snprintf-like return (length it needs). */
int edpg_diags_format(const struct edpg_diag *d, char *buf, size_t len);

/*
 * Parse a rules file.  *p is overwritten (it need not be initialised) and is
 * always left safe to pass to edpg_policy_free(), also on failure, when it
 * holds whatever was parsed.  Returns 0, -EINVAL when any error was found
 * (@d holds every one of them, plus warnings) or -ENOMEM.
 * Rules files may not contain `gateway` lines: those live in the gateways
 * file, which the CLI rewrites, so a gateway in the rules file could not be
 * deleted and would be duplicated on the next write.
 */
int edpg_rules_parse(struct edpg_policy *p, const char *file, const char *text, size_t len,
		     struct edpg_diags *d);
/*
 * Parse a gateways file (only `gateway` lines and comments) against the
 * services of an already parsed rules file, appending to p->gateways.
 * Duplicate MACs/names are checked against every gateway in @p.
 * Also handy for the CLI: "gateway MAC name X ..." built from arguments
 * parses with the same checks and messages.  Returns as edpg_rules_parse().
 */
int edpg_gateways_parse(struct edpg_policy *p, const char *file, const char *text, size_t len,
			struct edpg_diags *d);
/*
 * Serialise p->gateways in the grammar, sorted by MAC, MACs lower-case.
 * A gateway that uses_defaults is written without `services`, so it follows
 * the rules file's `defaults` as they are when the file is next read (and a
 * service only the old defaults named can be dropped from the rules file);
 * any other gets its list spelled out (`services none` for an empty set),
 * which no change of `defaults` touches.
 * *out is malloc'd and NUL-terminated; *len excludes the NUL.
 */
int edpg_gateways_format(const struct edpg_policy *p, char **out, size_t *len);
/* Frees members and gateways; leaves *p zeroed. */
void edpg_policy_free(struct edpg_policy *p);
/* Service / group id by name, or -ENOENT. */
int edpg_policy_service_id(const struct edpg_policy *p, const char *name);
int edpg_policy_group_id(const struct edpg_policy *p, const char *name);
/*
 * Index into p->gateways of the gateway with this MAC, Device ID (any form
 * edpg_mac_parse() accepts) or name; -ENOENT, or -ERANGE for a Device ID
 * that does not encode a MAC.
 */
int edpg_policy_find_gateway(const struct edpg_policy *p, const char *mac_or_name);

#endif
