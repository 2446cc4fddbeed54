// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"

int edpg_verbose;
bool edpg_json;
static int nerrors;

int edpg_err(int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err < 0 ? -err : err));
	nerrors++;
	if (edpg_json) {
		struct jw *w = jw_new(stdout);

		jw_obj_open(w, NULL);
		jw_str(w, "error", msg);
		jw_obj_close(w);
		jw_free(w);
	} else {
		fprintf(stderr, "edpgate: %s\n", msg);
	}
	return err;
}

int edpg_err_count(void)
{
	return nerrors;
}

void edpg_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("edpgate: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void edpg_info(const char *fmt, ...)
{
	va_list ap;

	if (edpg_json)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void edpg_debug(const char *fmt, ...)
{
	va_list ap;

	if (!edpg_verbose)
		return;
	fputs("edpgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
