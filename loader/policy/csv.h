/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * csv.h - a Remote Manager inventory export (CSV, RFC 4180) as gateways.
 *
 * The export is turned into the text of a gateways file, one `gateway
 * DEVICE-ID|MAC [name NAME]` line per record, which the ordinary gateways
 * parser then checks: one set of rules for what a gateway may be, however
 * it arrives.  A map from each generated line back to the CSV record lets
 * that parser's diagnostics point at the CSV's own FILE:LINE:COL.
 *
 * Pure: no I/O, no allocation but the outputs.
 */
#ifndef EDPG_CSV_H
#define EDPG_CSV_H

#include <stddef.h>

#include "rules.h"

/* Where one generated line's tokens came from. */
struct edpg_csv_origin {
	int line, col;			/* the record */
	int id_line, id_col;		/* its Device ID or MAC field (content) */
	int id_start, id_len;		/* that token's columns in the generated line */
	int name_line, name_col;	/* its name field, when it has one */
	int name_start, name_len;
};

/*
 * Convert @text (the CSV file @file) into gateways-file text in *out
 * (malloc'ed, *outlen bytes) and *origin (one per generated line).  The
 * header row must name a "Device ID" or "MAC" column (case-insensitive;
 * "MAC Address" too) and may name a "Name" column; other columns are
 * ignored.  Returns 0, -EINVAL when @d got an error (the records without
 * one are still converted, so the caller can report their problems too),
 * or -ENOMEM (then nothing is returned).
 */
int edpg_csv_gateways(const char *file, const char *text, size_t len, char **out,
		      size_t *outlen, struct edpg_csv_origin **origin, size_t *norigin,
		      struct edpg_diags *d);

/* Point the diagnostics d->v[from..] (of the generated text) back into the CSV. */
void edpg_csv_remap(struct edpg_diags *d, size_t from, const struct edpg_csv_origin *origin,
		    size_t norigin);

#endif
