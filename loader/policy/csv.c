// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * csv.c - a Remote Manager inventory export as gateways-file text.
 *
 * RFC 4180: fields separated by commas, records by CRLF (a bare LF is
 * taken too), a field in double quotes may hold commas, line breaks and
 * doubled quotes.  Positions are 1-based, columns count bytes, and point at
 * a field's content (after an opening quote), as the rules parser does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "csv.h"

#define QUOTE_MAX 48	/* longest field quoted back in a message */

struct field {
	const char *s;		/* content: quotes stripped, "" left doubled */
	size_t len;
	int line, col;
};

struct reader {
	const char *file, *p, *end;
	int line, col;
	struct edpg_diags *d;
	bool oom;
	struct field *f;
	size_t nf, capf;
};

static void __attribute__((format(printf, 4, 5)))
cerr(struct reader *r, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (edpg_diags_vadd(r->d, EDPG_DIAG_ERROR, r->file, line, col, fmt, ap))
		r->oom = true;
	va_end(ap);
}

static int push_field(struct reader *r, const char *s, size_t len, int line, int col)
{
	if (r->nf == r->capf) {
		size_t cap = r->capf ? r->capf * 2 : 16;
		struct field *v = realloc(r->f, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->f = v;
		r->capf = cap;
	}
	r->f[r->nf++] = (struct field){ s, len, line, col };
	return 0;
}

static void advance(struct reader *r)
{
	if (*r->p == '\n') {
		r->line++;
		r->col = 1;
	} else {
		r->col++;
	}
	r->p++;
}

/* At a record end: "\n", "\r\n" or the end of the text. */
static bool at_eol(const struct reader *r)
{
	return r->p == r->end || *r->p == '\n' ||
	       (*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n');
}

/*
 * One record into r->f.  Returns 1 when one was read, 0 at the end of the
 * text, -EINVAL after reporting a syntax error (the rest of the record is
 * skipped, so one bad quote costs one record), -ENOMEM.
 */
static int read_record(struct reader *r)
{
	bool bad = false;

	r->nf = 0;
	if (r->p == r->end)
		return 0;
	for (;;) {
		int line = r->line, col = r->col;
		const char *s = r->p;

		if (r->p < r->end && *r->p == '"') {
			int qline = line, qcol = col;

			advance(r);
			s = r->p;
			line = r->line;
			col = r->col;
			for (;;) {
				if (r->p == r->end) {
					cerr(r, qline, qcol, "unterminated quoted field (a '\"' opened here is never closed)");
					return -EINVAL;
				}
				if (*r->p == '"' && r->p + 1 < r->end && r->p[1] == '"') {
					advance(r);
					advance(r);
					continue;
				}
				if (*r->p == '"')
					break;
				advance(r);
			}
			if (push_field(r, s, r->p - s, line, col))
				return -ENOMEM;
			advance(r);	/* the closing quote */
			if (r->p < r->end && *r->p != ',' && !at_eol(r) && !bad) {
				cerr(r, r->line, r->col, "text after the closing quote of a field; quote the whole field and double any '\"' in it");
				bad = true;
			}
		} else {
			while (r->p < r->end && *r->p != ',' && !at_eol(r)) {
				if (*r->p == '"' && !bad) {
					cerr(r, r->line, r->col, "'\"' inside an unquoted field; quote the whole field and double the '\"' (RFC 4180)");
					bad = true;
				}
				advance(r);
			}
			if (push_field(r, s, r->p - s, line, col))
				return -ENOMEM;
		}
		/* Past junk after a closing quote, to the field's end. */
		while (r->p < r->end && *r->p != ',' && !at_eol(r))
			advance(r);
		if (r->p < r->end && *r->p == ',') {
			advance(r);
			continue;
		}
		if (r->p < r->end && *r->p == '\r')
			advance(r);
		if (r->p < r->end)
			advance(r);	/* '\n' */
		return bad ? -EINVAL : 1;
	}
}

static void trim(struct field *f)
{
	while (f->len && (f->s[0] == ' ' || f->s[0] == '\t')) {
		f->s++;
		f->len--;
		f->col++;
	}
	while (f->len && (f->s[f->len - 1] == ' ' || f->s[f->len - 1] == '\t'))
		f->len--;
}

static bool field_is(const struct field *f, const char *const *names)
{
	struct field t = *f;

	trim(&t);
	for (; *names; names++)
		if (strlen(*names) == t.len && !strncasecmp(t.s, *names, t.len))
			return true;
	return false;
}

/* The characters a MAC or Device ID may hold; anything else cannot be one. */
static bool id_chars(const struct field *f)
{
	for (size_t i = 0; i < f->len; i++) {
		char ch = f->s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || ch == ':' || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

static bool name_chars(const struct field *f)
{
	for (size_t i = 0; i < f->len; i++) {
		char ch = f->s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

/* Whether two fields parse as the same MAC (either unparsable: not judged here). */
static bool same_device(const struct field *a, const struct field *b)
{
	char x[EDPG_DEVID_STRLEN + 1], y[EDPG_DEVID_STRLEN + 1];
	uint8_t ma[6], mb[6];

	if (a->len >= sizeof(x) || b->len >= sizeof(y))
		return true;
	snprintf(x, sizeof(x), "%.*s", (int)a->len, a->s);
	snprintf(y, sizeof(y), "%.*s", (int)b->len, b->s);
	if (edpg_mac_parse(x, ma) || edpg_mac_parse(y, mb))
		return true;
	return !memcmp(ma, mb, 6);
}

#define QF(f) (int)((f)->len > QUOTE_MAX ? QUOTE_MAX : (f)->len), (f)->s, \
	      ((f)->len > QUOTE_MAX ? "..." : "")

struct out {
	char *buf;
	size_t len, cap;
	struct edpg_csv_origin *o;
	size_t n, cap_o;
};

static int out_line(struct out *w, const struct field *id, const struct field *name,
		    int line, int col)
{
	size_t need = 8 + id->len + (name ? 6 + name->len : 0) + 1;
	struct edpg_csv_origin *o;

	if (w->len + need + 1 > w->cap) {
		size_t cap = (w->cap ? w->cap * 2 : 4096) + need;
		char *b = realloc(w->buf, cap);

		if (!b)
			return -ENOMEM;
		w->buf = b;
		w->cap = cap;
	}
	if (w->n == w->cap_o) {
		size_t cap = w->cap_o ? w->cap_o * 2 : 64;

		o = realloc(w->o, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		w->o = o;
		w->cap_o = cap;
	}
	o = &w->o[w->n++];
	*o = (struct edpg_csv_origin){ .line = line, .col = col,
				       .id_line = id->line, .id_col = id->col,
				       .id_start = 9, .id_len = id->len };
	w->len += sprintf(w->buf + w->len, "gateway %.*s", (int)id->len, id->s);
	if (name) {
		o->name_line = name->line;
		o->name_col = name->col;
		o->name_start = 9 + id->len + 6;
		o->name_len = name->len;
		w->len += sprintf(w->buf + w->len, " name %.*s", (int)name->len, name->s);
	}
	w->buf[w->len++] = '\n';
	w->buf[w->len] = '\0';
	return 0;
}

int edpg_csv_gateways(const char *file, const char *text, size_t len, char **out,
		      size_t *outlen, struct edpg_csv_origin **origin, size_t *norigin,
		      struct edpg_diags *d)
{
	static const char *const id_names[] = { "Device ID", "DeviceID", "device_id", NULL };
	static const char *const mac_names[] = { "MAC", "MAC Address", "mac_address", NULL };
	static const char *const name_names[] = { "Name", "Device Name", NULL };
	struct reader r = { .file = file, .p = text, .end = text + len, .line = 1, .col = 1, .d = d };
	struct out w = {};
	long col_id = -1, col_mac = -1, col_name = -1;
	size_t nerr = d->nerrors;
	bool header = true;
	int err = 0, rc;

	*out = NULL;
	*origin = NULL;
	*outlen = *norigin = 0;
	/* A UTF-8 byte order mark, as spreadsheet programs write. */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		r.p += 3;
		r.col += 3;
	}
	while ((rc = read_record(&r)) != 0) {
		const struct field *id, *mac, *name;
		int line = r.nf ? r.f[0].line : r.line, col = r.nf ? r.f[0].col : 1;
		long need;

		if (rc == -ENOMEM) {
			err = -ENOMEM;
			goto out;
		}
		if (rc < 0)
			continue;
		/* A blank line is no record. */
		if (r.nf == 1 && !r.f[0].len)
			continue;
		if (header) {
			header = false;
			for (size_t i = 0; i < r.nf; i++) {
				long *slot = field_is(&r.f[i], id_names)   ? &col_id :
					     field_is(&r.f[i], mac_names)  ? &col_mac :
					     field_is(&r.f[i], name_names) ? &col_name : NULL;

				if (slot && *slot >= 0)
					cerr(&r, r.f[i].line, r.f[i].col, "column '%.*s%s' given twice in the header row",
					     QF(&r.f[i]));
				else if (slot)
					*slot = i;
			}
			if (col_id < 0 && col_mac < 0) {
				cerr(&r, line, col, "the header row names no 'Device ID' or 'MAC' column (a Remote Manager export has 'Device ID')");
				goto out;
			}
			continue;
		}
		need = col_id > col_mac ? col_id : col_mac;
		need = col_name > need ? col_name : need;
		if ((long)r.nf <= need) {
			cerr(&r, line, col, "this record has %zu field(s); the header row has at least %ld",
			     r.nf, need + 1);
			continue;
		}
		for (long c = 0; c <= need; c++)
			trim(&r.f[c]);
		id = col_id >= 0 && r.f[col_id].len ? &r.f[col_id] : NULL;
		mac = col_mac >= 0 && r.f[col_mac].len ? &r.f[col_mac] : NULL;
		name = col_name >= 0 && r.f[col_name].len ? &r.f[col_name] : NULL;
		if (!id && !mac) {
			cerr(&r, line, col, "this record has no %s", col_id >= 0 ? "Device ID" : "MAC");
			continue;
		}
		/* Both given: they must name one device. */
		if (id && mac && !same_device(id, mac)) {
			cerr(&r, mac->line, mac->col, "MAC '%.*s%s' is not the one Device ID '%.*s%s' encodes",
			     QF(mac), QF(id));
			continue;
		}
		if (!id)
			id = mac;
		if (!id_chars(id)) {
			cerr(&r, id->line, id->col, "'%.*s%s' is not a MAC or Device ID", QF(id));
			continue;
		}
		if (name && !name_chars(name)) {
			cerr(&r, name->line, name->col,
			     "'%.*s%s' is not a gateway name: letters, digits, '-' and '_' only, starting with a letter (rename it, or leave the name empty)",
			     QF(name));
			continue;
		}
		err = out_line(&w, id, name, line, col);
		if (err)
			goto out;
	}
	if (header)
		cerr(&r, 1, 1, "no header row: the file is empty");
out:
	free(r.f);
	if (!err && r.oom)
		err = -ENOMEM;
	if (err) {
		free(w.buf);
		free(w.o);
		return err;
	}
	*out = w.buf ? w.buf : strdup("");
	*outlen = w.len;
	*origin = w.o;
	*norigin = w.n;
	if (!*out)
		return -ENOMEM;
	return d->nerrors > nerr ? -EINVAL : 0;
}

void edpg_csv_remap(struct edpg_diags *d, size_t from, const struct edpg_csv_origin *origin,
		    size_t norigin)
{
	for (size_t i = from; i < d->n; i++) {
		struct edpg_diag *e = &d->v[i];
		const struct edpg_csv_origin *o;
		char *at;
		int l;

		if (e->line < 1 || (size_t)e->line > norigin)
			continue;
		o = &origin[e->line - 1];
		if (e->col >= o->id_start && e->col < o->id_start + o->id_len) {
			e->col = o->id_col + (e->col - o->id_start);
			e->line = o->id_line;
		} else if (o->name_len && e->col >= o->name_start &&
			   e->col < o->name_start + o->name_len) {
			e->col = o->name_col + (e->col - o->name_start);
			e->line = o->name_line;
		} else {
			e->line = o->line;
			e->col = o->col;
		}
		/* "(first enrolled at line N)": N is a generated line too. */
		at = strstr(e->msg, " at line ");
		if (at && sscanf(at, " at line %d", &l) == 1 && l >= 1 && (size_t)l <= norigin) {
			char *m;

			*at = '\0';
			if (asprintf(&m, "%s at line %d)", e->msg, origin[l - 1].line) >= 0) {
				free(e->msg);
				e->msg = m;
			} else {
				*at = ' ';
			}
		}
	}
}
