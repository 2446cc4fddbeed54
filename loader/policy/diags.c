// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * diags.c - diagnostics of the parsers: FILE:LINE:COL messages, collected
 * (never stopping at the first) and sorted by position.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

void edpg_diags_free(struct edpg_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

int edpg_diags_format(const struct edpg_diag *d, char *buf, size_t len)
{
	return snprintf(buf, len, "%s:%d:%d: %s: %s", d->file, d->line, d->col,
			d->severity == EDPG_DIAG_ERROR ? "error" : "warning", d->msg);
}

int edpg_diags_vadd(struct edpg_diags *d, int sev, const char *file, int line, int col,
		    const char *fmt, va_list ap)
{
	struct edpg_diag *e;
	char *msg;

	/* Count even when out of memory, so the verdict is never "no errors". */
	if (sev == EDPG_DIAG_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct edpg_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	if (vasprintf(&msg, fmt, ap) < 0)
		return -ENOMEM;
	e = &d->v[d->n];
	e->file = strdup(file);
	if (!e->file) {
		free(msg);
		return -ENOMEM;
	}
	e->severity = sev;
	e->line = line;
	e->col = col;
	e->msg = msg;
	d->n++;
	return 0;
}



static int diag_cmp(const struct edpg_diag *a, const struct edpg_diag *b)
{
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return a->col < b->col ? -1 : a->col > b->col;
}

/* Stable merge sort of v[0..n) by position; skipped (unsorted) on ENOMEM. */
void edpg_diags_sort(struct edpg_diag *v, size_t n)
{
	struct edpg_diag *tmp;
	size_t w, i;

	if (n < 2)
		return;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return;
	for (w = 1; w < n; w *= 2) {
		for (i = 0; i < n; i += 2 * w) {
			size_t a = i, am = i + w < n ? i + w : n;
			size_t b = am, bm = i + 2 * w < n ? i + 2 * w : n;
			size_t k = i;

			while (a < am && b < bm)
				tmp[k++] = diag_cmp(&v[b], &v[a]) < 0 ? v[b++] : v[a++];
			while (a < am)
				tmp[k++] = v[a++];
			while (b < bm)
				tmp[k++] = v[b++];
		}
		memcpy(v, tmp, n * sizeof(*v));
	}
	free(tmp);
}
