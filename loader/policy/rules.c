// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rules.c - the rules data parser (grammar: edpgate.rules(5)).
 *
 * The text is read as logical lines (a trailing backslash joins the next
 * physical line) of whitespace-separated tokens that keep their physical
 * line and column, so every message points at the token it is about.
 * Rules files are read in two passes: the first defines services and
 * groups, the second resolves everything that refers to them, so a rule may
 * name a group defined further down.  Nothing stops at the first error; the
 * messages are sorted by position at the end.  Allocation failures set a
 * flag and surface as -ENOMEM once the parse unwinds.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr.h"
#include "parse.h"
#include "prefault.h"


/* Report at (line, col); an allocation failure surfaces as -ENOMEM at the end. */
void rp_diag(struct ctx *c, int sev, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (edpg_diags_vadd(c->d, sev, c->file, line, col, fmt, ap))
		c->oom = true;
	va_end(ap);
}

/* ---- lexer ---------------------------------------------------------------- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static bool is_bad_char(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f;
}

static void line_push(struct ctx *c, struct lline *l, const char *s, size_t len, int line, int col)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		/* A group of 10,000 members is one line of 10,000 tokens. */
		struct tok *t = edpg_realloc_prefault(l->t, l->n * sizeof(*t), cap * sizeof(*t));

		if (!t) {
			c->oom = true;
			return;
		}
		l->t = t;
		l->cap = cap;
	}
	l->t[l->n++] = (struct tok){ .s = s, .len = len, .line = line, .col = col };
	l->end_line = line;
	l->end_col = col + (int)len;
}

struct lexer {
	const char *text;
	size_t len, pos;
	int line, col;
};

static void lex_adv(struct lexer *x)
{
	if (x->text[x->pos] == '\n') {
		x->line++;
		x->col = 1;
	} else {
		x->col++;
	}
	x->pos++;
}

/* Up to the newline (not past it): the column counts the bytes skipped. */
static void lex_skip_comment(struct lexer *x)
{
	const char *nl = memchr(x->text + x->pos, '\n', x->len - x->pos);
	size_t end = nl ? (size_t)(nl - x->text) : x->len;

	x->col += (int)(end - x->pos);
	x->pos = end;
}

/* The bytes that end a token. */
static const bool tok_end[256] = {
	['\n'] = true, ['#'] = true, ['\\'] = true, [' '] = true, ['\t'] = true, ['\r'] = true,
};

/*
 * Read the next logical line into @l.  Returns false at the end of the text.
 * Lexical errors are reported only when c->report_lex (first pass).
 */
static bool lex_line(struct ctx *c, struct lexer *x, struct lline *l)
{
	if (x->pos >= x->len)
		return false;
	l->n = 0;
	l->bad = false;
	l->end_line = x->line;
	l->end_col = x->col;
	while (x->pos < x->len && !c->oom) {
		char ch = x->text[x->pos];

		if (ch == '\n') {
			lex_adv(x);
			return true;
		}
		if (is_blank(ch)) {
			lex_adv(x);
		} else if (ch == '#') {
			lex_skip_comment(x);
		} else if (ch == '\\') {
			/* Continuation if only blanks (or a comment) follow on this line. */
			struct lexer y = *x;

			lex_adv(&y);
			while (y.pos < y.len && is_blank(y.text[y.pos]))
				lex_adv(&y);
			if (y.pos < y.len && y.text[y.pos] == '#')
				lex_skip_comment(&y);
			if (y.pos >= y.len || y.text[y.pos] == '\n') {
				if (y.pos < y.len)
					lex_adv(&y);
			} else {
				if (c->report_lex)
					rp_diag(c, EDPG_DIAG_ERROR, x->line, x->col,
					     "stray '\\': a backslash may only end a line (continuation)");
				l->bad = true;
				lex_adv(x);
				continue;
			}
			*x = y;
		} else {
			size_t start = x->pos;
			int line = x->line, col = x->col;

			/* No newline inside a token: the column just counts. */
			while (x->pos < x->len) {
				unsigned char u = x->text[x->pos];

				if (tok_end[u])
					break;
				if (is_bad_char(u)) {
					if (c->report_lex)
						rp_diag(c, EDPG_DIAG_ERROR, x->line, x->col,
						     "invalid character 0x%02x", u);
					l->bad = true;
				}
				x->pos++;
				x->col++;
			}
			line_push(c, l, x->text + start, x->pos - start, line, col);
		}
	}
	return true;
}

/* ---- token helpers -------------------------------------------------------- */

/* Copy into a NUL-terminated buffer; false when it does not fit. */
bool rp_tok_copy(const struct tok *t, char *buf, size_t size)
{
	if (t->len >= size)
		return false;
	memcpy(buf, t->s, t->len);
	buf[t->len] = '\0';
	return true;
}

bool rp_valid_name(const struct tok *t)
{
	size_t i;

	if (!t->len || t->len >= EDPG_NAME_MAX)
		return false;
	if (!((t->s[0] >= 'a' && t->s[0] <= 'z') || (t->s[0] >= 'A' && t->s[0] <= 'Z')))
		return false;
	for (i = 1; i < t->len; i++) {
		char ch = t->s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

void rp_err_name(struct ctx *c, const struct tok *t, const char *what)
{
	err_at(c, t, "invalid %s name '%.*s%s': names are 1-31 letters, digits, '-' or '_', "
	       "starting with a letter", what, TQ(t));
}

/* Unsigned decimal in [lo, hi]; reports and returns false otherwise. */
bool rp_parse_num(struct ctx *c, const struct tok *t, const char *what,
		      unsigned long lo, unsigned long hi, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (!t->len)
		goto bad;
	for (i = 0; i < t->len; i++)
		if (t->s[i] < '0' || t->s[i] > '9')
			goto bad;
	/* All digits: too many of them is out of range, not malformed. */
	if (t->len > MAX_NUM_LEN)
		goto range;
	for (i = 0; i < t->len; i++)
		v = v * 10 + (t->s[i] - '0');
	if (v < lo || v > hi)
		goto range;
	*out = v;
	return true;
bad:
	err_at(c, t, "invalid %s '%.*s%s': expected a decimal number", what, TQ(t));
	return false;
range:
	err_at(c, t, "%s '%.*s%s' is out of range (%lu-%lu)", what, TQ(t), lo, hi);
	return false;
}

static int service_find(const struct edpg_policy *p, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < p->nservices; i++)
		if (strlen(p->services[i].name) == len && !memcmp(p->services[i].name, s, len))
			return i;
	return -ENOENT;
}

static int group_find(const struct edpg_policy *p, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < p->ngroups; i++)
		if (strlen(p->groups[i].name) == len && !memcmp(p->groups[i].name, s, len))
			return i;
	return -ENOENT;
}

int edpg_policy_service_id(const struct edpg_policy *p, const char *name)
{
	return service_find(p, name, strlen(name));
}

int edpg_policy_group_id(const struct edpg_policy *p, const char *name)
{
	return group_find(p, name, strlen(name));
}

int edpg_policy_find_gateway(const struct edpg_policy *p, const char *mac_or_name)
{
	uint8_t mac[6];
	int err = edpg_mac_parse(mac_or_name, mac);
	bool is_mac = !err;
	size_t i;

	/* A Device ID not derived from a MAC can name no gateway (nor can it
	 * be a name, which starts with a letter): say so, not "not found". */
	if (err == -ERANGE)
		return err;
	for (i = 0; i < p->ngateways; i++) {
		if (is_mac && !memcmp(p->gateways[i].mac, mac, 6))
			return i;
		if (!is_mac && p->gateways[i].name[0] && !strcmp(p->gateways[i].name, mac_or_name))
			return i;
	}
	return -ENOENT;
}

/*
 * A comma-separated list of names, possibly spread over several tokens
 * ("a,b", "a, b" and "a ,b" are all one list).  Starting at token *i,
 * resolves each item with @find and ORs its bit into *bits.  Returns false
 * on any error (each reported).  Leaves *i after the last token of the list.
 */
static bool parse_list(struct ctx *c, const struct lline *l, size_t *i, const char *what,
		       int (*find)(const struct edpg_policy *, const char *, size_t), uint64_t *bits)
{
	bool ok = true, more = true, want_item = true;
	const struct tok *t = NULL;

	*bits = 0;
	while (more && *i < l->n) {
		size_t a = 0;

		t = &l->t[(*i)++];
		while (a < t->len) {
			struct tok it = { t->s + a, 0, t->line, t->col + (int)a };
			int id;

			if (t->s[a] == ',') {
				if (want_item) {
					err_at(c, &it, "empty %s name in list", what);
					ok = false;
				}
				want_item = true;
				a++;
				continue;
			}
			while (a + it.len < t->len && t->s[a + it.len] != ',')
				it.len++;
			a += it.len;
			want_item = false;
			id = find(c->p, it.s, it.len);
			if (id < 0) {
				err_at(c, &it, "undefined %s '%.*s%s'", what, TQ(&it));
				ok = false;
			} else {
				*bits |= 1ULL << id;
			}
		}
		/* The list goes on when this token ends, or the next one starts, with a comma. */
		more = (t->len && t->s[t->len - 1] == ',') ||
		       (*i < l->n && l->t[*i].len && l->t[*i].s[0] == ',');
	}
	if (want_item && t) {
		rp_diag(c, EDPG_DIAG_ERROR, t->line, t->col + (int)t->len,
		     "expected a %s name after ','", what);
		ok = false;
	}
	return ok;
}

/* Report the first token from @i on as unexpected, if there is one. */
static void no_more(struct ctx *c, const struct lline *l, size_t i)
{
	if (i < l->n)
		err_at(c, &l->t[i], "unexpected '%.*s%s' after the end of the '%.*s%s' statement",
		       TQ(&l->t[i]), TQ(&l->t[0]));
}

/* ---- service -------------------------------------------------------------- */

static bool parse_ports(struct ctx *c, const struct tok *t, uint16_t *lo, uint16_t *hi)
{
	const char *dash = memchr(t->s, '-', t->len);
	struct tok a = *t, b;
	unsigned long vlo = 0, vhi = 0;
	bool ok;

	if (dash) {
		a.len = dash - t->s;
		b = (struct tok){ dash + 1, t->len - a.len - 1, t->line, t->col + (int)a.len + 1 };
		if (!a.len || !b.len) {
			err_at(c, t, "invalid port range '%.*s%s': expected PORT or LO-HI", TQ(t));
			return false;
		}
	}
	ok = rp_parse_num(c, &a, "port", 1, 65535, &vlo);
	if (dash)
		ok = rp_parse_num(c, &b, "port", 1, 65535, &vhi) && ok;
	else
		vhi = vlo;
	if (ok && vlo > vhi) {
		err_at(c, t, "port range %lu-%lu: the low port is above the high port", vlo, vhi);
		ok = false;
	}
	if (ok) {
		*lo = vlo;
		*hi = vhi;
	}
	return ok;
}

static void stmt_service(struct ctx *c, const struct lline *l)
{
	struct edpg_policy *p = c->p;
	struct edpg_service s;
	bool name_ok = false, proto_ok = false, ports_ok = false;
	const struct tok *t;
	int id;
	size_t i;

	memset(&s, 0, sizeof(s));
	s.proto = IPPROTO_TCP;
	if (l->n < 2) {
		err_end(c, l, "expected a service name after 'service'");
		return;
	}
	t = &l->t[1];
	if (!rp_valid_name(t)) {
		rp_err_name(c, t, "service");
	} else if (rp_tok_is(t, "none")) {
		err_at(c, t, "'none' is reserved (`services none` means no services)");
	} else if ((id = service_find(p, t->s, t->len)) >= 0) {
		err_at(c, t, "duplicate service '%.*s%s' (first defined at line %d)", TQ(t),
		       p->services[id].line);
	} else {
		name_ok = true;
		rp_tok_copy(t, s.name, sizeof(s.name));
	}
	if (l->n < 3) {
		err_end(c, l, "expected tcp or udp and a port after the service name");
	} else if (rp_tok_is(&l->t[2], "tcp") || rp_tok_is(&l->t[2], "udp")) {
		s.proto = rp_tok_is(&l->t[2], "tcp") ? IPPROTO_TCP : IPPROTO_UDP;
		proto_ok = true;
	} else {
		err_at(c, &l->t[2], "expected tcp or udp, got '%.*s%s'", TQ(&l->t[2]));
	}
	if (l->n == 3)
		err_end(c, l, "expected a port or port range (PORT or LO-HI) after the protocol");
	else if (l->n > 3)
		ports_ok = parse_ports(c, &l->t[3], &s.port_lo, &s.port_hi);
	no_more(c, l, 4);

	/* The data path maps (protocol, port) to exactly one service. */
	for (i = 0; proto_ok && ports_ok && i < p->nservices; i++) {
		const struct edpg_service *o = &p->services[i];

		if (o->proto != s.proto || !o->port_lo || s.port_lo > o->port_hi || o->port_lo > s.port_hi)
			continue;
		err_at(c, &l->t[3], "ports %u-%u/%s overlap service '%s' (%u-%u, line %d): "
		       "a protocol and port may belong to one service only", s.port_lo, s.port_hi,
		       s.proto == IPPROTO_TCP ? "tcp" : "udp", o->name, o->port_lo, o->port_hi, o->line);
		ports_ok = false;
		break;
	}
	if (!name_ok)
		return;
	if (p->nservices >= EDPG_MAX_SERVICES) {
		err_at(c, t, "too many services (at most %d)", EDPG_MAX_SERVICES);
		return;
	}
	/*
	 * Keep a service with bad ports under its name (ports 0 never match),
	 * so references to it do not add "undefined service" noise.
	 */
	if (!ports_ok)
		s.port_lo = s.port_hi = 0;
	s.line = t->line;
	p->services[p->nservices++] = s;
}

/* ---- group ---------------------------------------------------------------- */

static bool is_dns_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_';
}

/* A host name: labels of 1-63 [A-Za-z0-9_-], 253 bytes at most; stored lower-case. */
static bool parse_dns(struct ctx *c, const struct tok *t, char out[EDPG_DNS_MAX])
{
	size_t len = t->len, i, label = 0;

	if (len && t->s[len - 1] == '.')
		len--;		/* absolute form "name." is the same name */
	if (!len || len > EDPG_DNS_MAX - 1) {
		err_at(c, t, "invalid DNS name '%.*s%s': %s", TQ(t),
		       len ? "longer than 253 characters" : "empty");
		return false;
	}
	for (i = 0; i < len; i++) {
		char ch = t->s[i];

		if (ch == '.') {
			if (!label) {
				rp_diag(c, EDPG_DIAG_ERROR, t->line, t->col + (int)i,
				     "invalid DNS name '%.*s%s': empty label", TQ(t));
				return false;
			}
			label = 0;
		} else if (!is_dns_char(ch)) {
			rp_diag(c, EDPG_DIAG_ERROR, t->line, t->col + (int)i,
			     "invalid character '%c' in DNS name '%.*s%s'",
			     ch > 0x20 && ch < 0x7f ? ch : '?', TQ(t));
			return false;
		} else if (++label > 63) {
			rp_diag(c, EDPG_DIAG_ERROR, t->line, t->col + (int)i,
			     "invalid DNS name '%.*s%s': a label is longer than 63 characters", TQ(t));
			return false;
		}
		out[i] = (ch >= 'A' && ch <= 'Z') ? ch - 'A' + 'a' : ch;
	}
	out[len] = '\0';
	return true;
}

static bool looks_like_addr(const struct tok *t)
{
	size_t i;

	if (memchr(t->s, ':', t->len) || memchr(t->s, '/', t->len))
		return true;
	for (i = 0; i < t->len; i++)
		if (t->s[i] != '.' && (t->s[i] < '0' || t->s[i] > '9'))
			return false;
	return true;
}

const char *rp_family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

static bool parse_member(struct ctx *c, const struct tok *t, struct edpg_member *m)
{
	char buf[EDPG_ADDR_STRLEN], fixed[EDPG_ADDR_STRLEN], name[EDPG_DNS_MAX];
	int err;

	memset(m, 0, sizeof(*m));
	if (t->s[0] == '@') {
		if (rp_tok_is(t, "@router")) {
			m->kind = EDPG_MEMBER_ROUTER;
			return true;
		}
		err_at(c, t, "unknown member '%.*s%s': the only @ member is @router", TQ(t));
		return false;
	}
	if (looks_like_addr(t)) {
		m->kind = EDPG_MEMBER_ADDR;
		err = rp_tok_copy(t, buf, sizeof(buf)) ? edpg_addr_parse(buf, &m->addr, true) : -EINVAL;
		if (err == -ERANGE) {
			err_at(c, t, "prefix length in '%.*s%s' is too long for an %s address", TQ(t),
			       rp_family_name(m->addr.family));
		} else if (err == -EDOM) {
			if (edpg_addr_format(&m->addr, fixed, sizeof(fixed)))
				fixed[0] = '\0';
			err_at(c, t, "host bits set in '%.*s%s' (the network is %s)", TQ(t), fixed);
		} else if (err) {
			err_at(c, t, "invalid address '%.*s%s': expected IPv4 or IPv6, optionally /LEN",
			       TQ(t));
		}
		return !err;
	}
	m->kind = EDPG_MEMBER_NAME;
	if (!parse_dns(c, t, name))
		return false;
	m->name = strdup(name);
	if (!m->name) {
		c->oom = true;
		return false;
	}
	if (!strncmp(name, "my.idigi.", 9))
		warn_at(c, t, "'%s' is deprecated: Digi asks gateways to move to login.etherios.* "
			"(kept so gateways still configured with it can connect)", name);
	return true;
}

static void members_free(struct edpg_member *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static bool member_eq(const struct edpg_member *a, const struct edpg_member *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == EDPG_MEMBER_NAME)
		return !strcmp(a->name, b->name);
	if (a->kind == EDPG_MEMBER_ADDR)
		return !edpg_addr_cmp(&a->addr, &b->addr);
	return true;
}

/* FNV-1a over what member_eq compares, so equal members hash alike. */
static uint32_t member_hash(const struct edpg_member *m)
{
	uint32_t h = (2166136261u ^ (uint32_t)m->kind) * 16777619u;
	const uint8_t *b;
	size_t n, i;

	if (m->kind == EDPG_MEMBER_NAME) {
		b = (const uint8_t *)m->name;
		n = strlen(m->name);
	} else if (m->kind == EDPG_MEMBER_ADDR) {
		h = (h ^ (uint32_t)m->addr.family) * 16777619u;
		h = (h ^ m->addr.plen) * 16777619u;
		b = m->addr.addr;
		n = edpg_addr_bits(m->addr.family) / 8;
	} else {
		return h;
	}
	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static void stmt_group(struct ctx *c, const struct lline *l)
{
	static const struct {
		const char *kw;
		unsigned long lo, hi;
	} opts[] = {
		{ "min-ttl", 0, 86400 },
		{ "grace", 0, 604800 },
		{ "max-addrs", 1, 1024 },
	};
	struct edpg_policy *p = c->p;
	unsigned long val[3] = { EDPG_DEF_MIN_TTL, EDPG_DEF_GRACE, EDPG_DEF_MAX_ADDRS };
	bool seen[3] = { false };
	struct edpg_group g;
	const struct tok *t;
	bool name_ok = false;
	uint32_t *seen_at = NULL, mask = 1, h;
	size_t i, k;
	int id;

	memset(&g, 0, sizeof(g));
	if (l->n < 2) {
		err_end(c, l, "expected a group name after 'group'");
		return;
	}
	t = &l->t[1];
	if (!rp_valid_name(t)) {
		rp_err_name(c, t, "group");
	} else if ((id = group_find(p, t->s, t->len)) >= 0) {
		err_at(c, t, "duplicate group '%.*s%s' (first defined at line %d)", TQ(t),
		       p->groups[id].line);
	} else {
		name_ok = true;
		rp_tok_copy(t, g.name, sizeof(g.name));
	}
	for (i = 2; i < l->n; i += 2) {
		for (k = 0; k < 3 && !rp_tok_is(&l->t[i], opts[k].kw); k++)
			;
		if (k == 3)
			break;
		if (seen[k])
			err_at(c, &l->t[i], "'%s' given twice", opts[k].kw);
		seen[k] = true;
		if (i + 1 >= l->n) {
			err_end(c, l, "expected a number of %s after '%s'",
				k == 2 ? "addresses" : "seconds", opts[k].kw);
			i = l->n;
			goto members;
		}
		rp_parse_num(c, &l->t[i + 1], opts[k].kw, opts[k].lo, opts[k].hi, &val[k]);
	}
	if (i >= l->n)
		err_end(c, l, "group '%.*s%s' needs at least one member (a DNS name, address, "
			"CIDR or @router)", TQ(t));
members:
	g.min_ttl = val[0];
	g.grace = val[1];
	g.max_addrs = val[2];
	g.line = t->line;
	if (i < l->n) {
		/*
		 * Members seen so far, by hash (index + 1, open addressing):
		 * a linear scan for duplicates made a group of 10,000
		 * addresses cost 50M comparisons per pass.
		 */
		while (mask < 2 * (l->n - i))
			mask <<= 1;
		g.members = calloc(l->n - i, sizeof(*g.members));
		seen_at = calloc(mask, sizeof(*seen_at));
		if (!g.members || !seen_at) {
			free(g.members);
			free(seen_at);
			c->oom = true;
			return;
		}
		edpg_prefault(g.members, (l->n - i) * sizeof(*g.members));
		edpg_prefault(seen_at, mask * sizeof(*seen_at));
		mask--;
	}
	for (; i < l->n; i++) {
		struct edpg_member *m = &g.members[g.nmembers];
		const struct tok *o = &l->t[i];

		if (rp_tok_is(o, "min-ttl") || rp_tok_is(o, "grace") || rp_tok_is(o, "max-addrs")) {
			/* Skip its value too: one mistake, one message. */
			err_at(c, o, "'%.*s%s' must come before the group's members", TQ(o));
			i++;
			continue;
		}
		if (!parse_member(c, o, m))
			continue;
		for (h = member_hash(m) & mask; seen_at[h]; h = (h + 1) & mask)
			if (member_eq(&g.members[seen_at[h] - 1], m))
				break;
		if (seen_at[h]) {
			warn_at(c, &l->t[i], "'%.*s%s' is already a member of this group", TQ(&l->t[i]));
			free(m->name);	/* the slot is parsed into again */
			m->name = NULL;
			continue;
		}
		seen_at[h] = ++g.nmembers;
	}
	free(seen_at);
	if (name_ok && p->ngroups >= EDPG_MAX_GROUPS) {
		err_at(c, t, "too many groups (at most %d)", EDPG_MAX_GROUPS);
		name_ok = false;
	}
	if (!name_ok) {
		members_free(g.members, g.nmembers);
		return;
	}
	p->groups[p->ngroups++] = g;
}

/* ---- allow, defaults, actions --------------------------------------------- */

static void stmt_allow(struct ctx *c, const struct lline *l)
{
	uint64_t svcs, groups;
	bool ok;
	size_t i = 1, s;

	if (l->n < 2) {
		err_end(c, l, "expected a service list after 'allow'");
		return;
	}
	ok = parse_list(c, l, &i, "service", service_find, &svcs);
	if (i >= l->n) {
		err_end(c, l, "expected 'to' and a group list after the services");
		return;
	}
	if (!rp_tok_is(&l->t[i], "to")) {
		err_at(c, &l->t[i], "expected 'to' after the service list, got '%.*s%s'", TQ(&l->t[i]));
		return;
	}
	if (++i >= l->n) {
		err_end(c, l, "expected a group list after 'to'");
		return;
	}
	ok = parse_list(c, l, &i, "group", group_find, &groups) && ok;
	no_more(c, l, i);
	if (!ok)
		return;
	for (s = 0; s < c->p->nservices; s++)
		if (svcs & (1ULL << s))
			c->p->services[s].groups |= groups;
}

/* `none` alone, or a service list; *i is left after it. */
bool rp_parse_services(struct ctx *c, const struct lline *l, size_t *i, uint32_t *out)
{
	uint64_t bits = 0;
	bool ok;

	if (rp_tok_is(&l->t[*i], "none") && !(*i + 1 < l->n && l->t[*i + 1].s[0] == ',')) {
		(*i)++;
		*out = 0;
		return true;
	}
	ok = parse_list(c, l, i, "service", service_find, &bits);
	*out = (uint32_t)bits;
	return ok;
}

static void stmt_defaults(struct ctx *c, const struct lline *l)
{
	uint32_t bits;
	size_t i = 1;

	if (c->defaults_line)
		err_at(c, &l->t[0], "'defaults' already given at line %d", c->defaults_line);
	else
		c->defaults_line = l->t[0].line;
	if (l->n < 2) {
		err_end(c, l, "expected a service list (or none) after 'defaults'");
		return;
	}
	if (rp_parse_services(c, l, &i, &bits))
		c->p->default_services = bits;
	no_more(c, l, i);
}

static void stmt_action(struct ctx *c, const struct lline *l, int *seen_line, enum edpg_action *out)
{
	if (*seen_line)
		err_at(c, &l->t[0], "'%.*s%s' already given at line %d", TQ(&l->t[0]), *seen_line);
	else
		*seen_line = l->t[0].line;
	if (l->n < 2) {
		err_end(c, l, "expected drop or pass after '%.*s%s'", TQ(&l->t[0]));
		return;
	}
	if (rp_tok_is(&l->t[1], "drop"))
		*out = EDPG_ACT_DROP;
	else if (rp_tok_is(&l->t[1], "pass"))
		*out = EDPG_ACT_PASS;
	else
		err_at(c, &l->t[1], "expected drop or pass, got '%.*s%s'", TQ(&l->t[1]));
	no_more(c, l, 2);
}

/* ---- driver --------------------------------------------------------------- */

static void dispatch(struct ctx *c, const struct lline *l, int pass)
{
	const struct tok *k;

	if (!l->n || l->bad)
		return;
	k = &l->t[0];
	if (c->gateways_file) {
		if (rp_tok_is(k, "gateway"))
			rp_stmt_gateway(c, l);
		else
			err_at(c, k, "only 'gateway' lines may appear in a gateways file, not '%.*s%s'",
			       TQ(k));
		return;
	}
	if (pass == 1) {
		if (rp_tok_is(k, "service"))
			stmt_service(c, l);
		else if (rp_tok_is(k, "group"))
			stmt_group(c, l);
		return;
	}
	if (rp_tok_is(k, "service") || rp_tok_is(k, "group"))
		return;
	if (rp_tok_is(k, "allow"))
		stmt_allow(c, l);
	else if (rp_tok_is(k, "defaults"))
		stmt_defaults(c, l);
	else if (rp_tok_is(k, "unknown-mac"))
		stmt_action(c, l, &c->unknown_mac_line, &c->p->unknown_mac);
	else if (rp_tok_is(k, "non-ip"))
		stmt_action(c, l, &c->non_ip_line, &c->p->non_ip);
	else if (rp_tok_is(k, "gateway"))
		err_at(c, k, "gateway lines belong in the gateways file in the state directory "
		       "(use `edpgate gateway add`), not in the rules file");
	else
		err_at(c, k, "unknown keyword '%.*s%s' (expected service, group, allow, defaults, "
		       "unknown-mac or non-ip)", TQ(k));
}

/* Where a logical line starts: enough to lex it again. */
struct lmark {
	size_t pos;
	int line, col;
};

struct lmarks {
	struct lmark *v;
	size_t n, cap;
};

static void mark_push(struct ctx *c, struct lmarks *m, const struct lmark *at)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct lmark *v = realloc(m->v, cap * sizeof(*v));

		if (!v) {
			c->oom = true;
			return;
		}
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = *at;
}

/*
 * Pass 1 reads every line; with @later it notes where the lines pass 2
 * has work for start (not service or group, nor empty or bad), and pass 2
 * lexes just those again.  A site's group of 10,000 addresses is one
 * logical line of 10,000 tokens that pass 2 would only skip.
 */
static void run_pass(struct ctx *c, const char *text, size_t len, int pass, struct lmarks *later)
{
	struct lexer x = { .text = text, .len = len, .pos = 0, .line = 1, .col = 1 };
	struct lline l = { 0 };
	size_t k = 0;

	c->report_lex = pass == 1;
	for (;;) {
		struct lmark at = { x.pos, x.line, x.col };

		if (pass == 2 && later) {
			if (k == later->n)
				break;
			at = later->v[k++];
			x.pos = at.pos;
			x.line = at.line;
			x.col = at.col;
		}
		if (c->oom || !lex_line(c, &x, &l) || c->oom)
			break;
		dispatch(c, &l, pass);
		if (pass == 1 && later && l.n && !l.bad && !rp_tok_is(&l.t[0], "service") &&
		    !rp_tok_is(&l.t[0], "group"))
			mark_push(c, later, &at);
	}
	free(l.t);
}

static int finish(struct ctx *c, size_t first_diag, size_t errors_before)
{
	struct edpg_diags *d = c->d;

	if (d->n > first_diag)
		edpg_diags_sort(d->v + first_diag, d->n - first_diag);
	if (c->oom)
		return -ENOMEM;
	return d->nerrors > errors_before ? -EINVAL : 0;
}

int edpg_rules_parse(struct edpg_policy *p, const char *file, const char *text, size_t len,
		     struct edpg_diags *d)
{
	struct ctx c = { .p = p, .file = file ? file : "<rules>", .d = d };
	size_t first = d->n, errors = d->nerrors;
	struct lmarks later = { 0 };

	memset(p, 0, sizeof(*p));
	p->unknown_mac = EDPG_ACT_DROP;
	p->non_ip = EDPG_ACT_DROP;
	run_pass(&c, text, len, 1, &later);
	run_pass(&c, text, len, 2, &later);
	free(later.v);
	return finish(&c, first, errors);
}

int edpg_gateways_parse(struct edpg_policy *p, const char *file, const char *text, size_t len,
			struct edpg_diags *d)
{
	struct ctx c = { .p = p, .file = file ? file : "<gateways>", .d = d, .gateways_file = true };
	size_t first = d->n, errors = d->nerrors;
	int ret;

	c.gw_base = c.gw_cap = p->ngateways;
	rp_gateways_reserve(&c, text, len);
	run_pass(&c, text, len, 1, NULL);
	if (!c.oom)
		rp_check_gateway_dups(&c);
	ret = finish(&c, first, errors);
	free(c.gpos);
	return ret;
}

void edpg_policy_free(struct edpg_policy *p)
{
	size_t i;

	for (i = 0; i < p->ngroups; i++)
		members_free(p->groups[i].members, p->groups[i].nmembers);
	free(p->gateways);
	memset(p, 0, sizeof(*p));
}
