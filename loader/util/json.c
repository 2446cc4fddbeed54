// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

#define JW_DEPTH 32

struct jw {
	FILE *f;
	int depth;
	bool first[JW_DEPTH];	/* no element written yet at this level */
};

struct jw *jw_new(FILE *f)
{
	struct jw *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->f = f;
	w->first[0] = true;
	return w;
}

void jw_free(struct jw *w)
{
	if (!w)
		return;
	fputc('\n', w->f);
	fflush(w->f);
	free(w);
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (c < 0x20)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

/* Comma and key before a value; keys are ignored inside arrays. */
static void pre(struct jw *w, const char *key)
{
	if (!w->first[w->depth])
		fputc(',', w->f);
	w->first[w->depth] = false;
	if (key) {
		put_string(w->f, key);
		fputc(':', w->f);
	}
}

static void open(struct jw *w, const char *key, char c)
{
	pre(w, key);
	fputc(c, w->f);
	if (w->depth < JW_DEPTH - 1)
		w->depth++;
	w->first[w->depth] = true;
}

static void close_(struct jw *w, char c)
{
	fputc(c, w->f);
	if (w->depth > 0)
		w->depth--;
}

void jw_obj_open(struct jw *w, const char *key) { open(w, key, '{'); }
void jw_obj_close(struct jw *w) { close_(w, '}'); }
void jw_arr_open(struct jw *w, const char *key) { open(w, key, '['); }
void jw_arr_close(struct jw *w) { close_(w, ']'); }

void jw_str(struct jw *w, const char *key, const char *v)
{
	pre(w, key);
	if (v)
		put_string(w->f, v);
	else
		fputs("null", w->f);
}

void jw_uint(struct jw *w, const char *key, uint64_t v)
{
	pre(w, key);
	fprintf(w->f, "%llu", (unsigned long long)v);
}

void jw_int(struct jw *w, const char *key, int64_t v)
{
	pre(w, key);
	fprintf(w->f, "%lld", (long long)v);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	pre(w, key);
	fputs(v ? "true" : "false", w->f);
}

static struct jw *out_w;

void out_begin(void)
{
	if (edpg_json && !out_w)
		out_w = jw_new(stdout);
}

void out_end(void)
{
	if (out_w) {
		jw_free(out_w);
		out_w = NULL;
	}
	fflush(stdout);
}

void out_obj_open(const char *key)
{
	if (out_w)
		jw_obj_open(out_w, key);
}

void out_obj_close(void)
{
	if (out_w)
		jw_obj_close(out_w);
}

void out_arr_open(const char *key)
{
	if (out_w)
		jw_arr_open(out_w, key);
}

void out_arr_close(void)
{
	if (out_w)
		jw_arr_close(out_w);
}

void out_str(const char *key, const char *fmt, const char *v)
{
	if (out_w)
		jw_str(out_w, key, v);
	else if (fmt)
		printf(fmt, v ? v : "-");
}

void out_uint(const char *key, const char *fmt, uint64_t v)
{
	if (out_w)
		jw_uint(out_w, key, v);
	else if (fmt)
		printf(fmt, (unsigned long long)v);
}

void out_int(const char *key, const char *fmt, int64_t v)
{
	if (out_w)
		jw_int(out_w, key, v);
	else if (fmt)
		printf(fmt, (long long)v);
}

void out_bool(const char *key, const char *fmt, bool v)
{
	if (out_w)
		jw_bool(out_w, key, v);
	else if (fmt)
		printf(fmt, v ? "yes" : "no");
}

void out_text(const char *fmt, ...)
{
	va_list ap;

	if (edpg_json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}
