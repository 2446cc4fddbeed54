/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef EDPG_LOG_H
#define EDPG_LOG_H

#include <stdbool.h>

extern int edpg_verbose;
extern bool edpg_json;

/*
 * Report an error and return @err (a negative errno) so a failing call can
 * be `return edpg_err(ret, "...")`.  When @err is non-zero its strerror is
 * appended.  In JSON mode the message becomes {"error": ...} on stdout so a
 * script reading JSON never has to scrape stderr.
 */
int edpg_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void edpg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void edpg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void edpg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Messages reported so far (0 = none); main prints a generic one otherwise. */
int edpg_err_count(void);

#endif
