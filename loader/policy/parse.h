/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * parse.h - what the rules parser (rules.c) and the gateways parser
 * (gateways.c) share: tokens with their positions, logical lines, the parse
 * context, and the helpers that report at a token.  Internal to policy/.
 */
#ifndef EDPG_PARSE_H
#define EDPG_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

#define TOKQ_MAX	48	/* longest token quoted back in a message */
#define MAX_NUM_LEN	10	/* digits of the largest number we accept */

struct tok {
	const char *s;
	size_t len;
	int line, col;
};

struct lline {
	struct tok *t;
	size_t n, cap;
	int end_line, end_col;	/* just past the last token: "missing X" goes here */
	bool bad;		/* had a lexical error; not interpreted */
};

struct gwpos {
	int line, col;		/* of the MAC */
	int name_line, name_col;
};

struct ctx {
	struct edpg_policy *p;
	const char *file;
	struct edpg_diags *d;
	bool oom;
	bool report_lex;
	bool gateways_file;
	int defaults_line, unknown_mac_line, non_ip_line;
	/* positions of the gateways added by this call, index - gw_base */
	struct gwpos *gpos;
	size_t gw_base, gw_cap;
};

void rp_diag(struct ctx *c, int sev, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define err_at(c, t, ...)  rp_diag(c, EDPG_DIAG_ERROR, (t)->line, (t)->col, __VA_ARGS__)
#define warn_at(c, t, ...) rp_diag(c, EDPG_DIAG_WARNING, (t)->line, (t)->col, __VA_ARGS__)
#define err_end(c, l, ...) rp_diag(c, EDPG_DIAG_ERROR, (l)->end_line, (l)->end_col, __VA_ARGS__)

/* Quote a token in a message: "%.*s%s" with TQ(t). */
#define TQ(t) (int)((t)->len > TOKQ_MAX ? TOKQ_MAX : (t)->len), (t)->s, ((t)->len > TOKQ_MAX ? "..." : "")

/* Inline: called with a literal, the length folds to a constant. */
static inline bool rp_tok_is(const struct tok *t, const char *s)
{
	size_t n = __builtin_strlen(s);

	return t->len == n && !__builtin_memcmp(t->s, s, n);
}
/* Copy a token NUL-terminated; false when it does not fit. */
bool rp_tok_copy(const struct tok *t, char *buf, size_t size);
bool rp_valid_name(const struct tok *t);
const char *rp_family_name(int family);	/* "IPv4" or "IPv6" */
void rp_err_name(struct ctx *c, const struct tok *t, const char *what);
/* Unsigned decimal in [lo, hi]; reports and returns false otherwise. */
bool rp_parse_num(struct ctx *c, const struct tok *t, const char *what,
		  unsigned long lo, unsigned long hi, unsigned long *out);
/* A service list from token *i on (reported on error). */
bool rp_parse_services(struct ctx *c, const struct lline *l, size_t *i, uint32_t *out);

/* gateways.c: room for the gateways of @text (one a line at most), one
 * `gateway` line, and the duplicate check after the file. */
void rp_gateways_reserve(struct ctx *c, const char *text, size_t len);
void rp_stmt_gateway(struct ctx *c, const struct lline *l);
void rp_check_gateway_dups(struct ctx *c);

#endif
