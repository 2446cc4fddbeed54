/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * json.h - one output path for text and JSON.
 *
 * Commands describe what they print once, with a key for JSON and a printf
 * format for text (the iproute2 print_*(PRINT_ANY, ...) idea): in text mode
 * the format is used and the key ignored; in JSON mode the key and the
 * value are emitted and text-only decoration (out_text) is dropped.  So the
 * two forms cannot disagree about what is reported.
 */
#ifndef EDPG_JSON_H
#define EDPG_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Low-level JSON writer: tracks nesting and commas. */
struct jw;
struct jw *jw_new(FILE *f);
void jw_free(struct jw *w);	/* ends the document with a newline */
void jw_obj_open(struct jw *w, const char *key);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w, const char *key);
void jw_arr_close(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *v);	/* NULL v -> null */
void jw_uint(struct jw *w, const char *key, uint64_t v);
void jw_int(struct jw *w, const char *key, int64_t v);
void jw_bool(struct jw *w, const char *key, bool v);

/* The one-path printer used by every subcommand (stdout). */
void out_begin(void);
void out_end(void);
void out_obj_open(const char *key);
void out_obj_close(void);
void out_arr_open(const char *key);
void out_arr_close(void);
void out_str(const char *key, const char *fmt, const char *v);
void out_uint(const char *key, const char *fmt, uint64_t v);
void out_int(const char *key, const char *fmt, int64_t v);
void out_bool(const char *key, const char *fmt, bool v);
void out_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
