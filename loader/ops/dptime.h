/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * dptime.h - data-path times (the XDP program's clock) for people.
 */
#ifndef EDPG_DPTIME_H
#define EDPG_DPTIME_H

#include <stddef.h>
#include <stdint.h>

/* "2024-01-02T03:04:05Z" from a data-path time (NULL when 0). */
const char *edpg_dp_time_str(uint64_t dp_ns, char *buf, size_t len);
/* Seconds since a data-path time (-1 when 0). */
int64_t edpg_dp_age(uint64_t dp_ns);

#endif
