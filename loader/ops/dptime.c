// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * dptime.c - data-path times (CLOCK_MONOTONIC_COARSE ns, as the XDP
 * program stamps its records) for people: a wall-clock date, an age.
 */
#include <stdio.h>
#include <time.h>

#include "bpfmaps.h"
#include "dptime.h"

const char *edpg_dp_time_str(uint64_t dp_ns, char *buf, size_t len)
{
	int64_t w = edpg_dp_time_to_wall(dp_ns);
	struct tm tm;

	if (!w)
		return NULL;
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&(time_t){ w }, &tm));
	return buf;
}

int64_t edpg_dp_age(uint64_t dp_ns)
{
	struct timespec mt;
	int64_t now;

	if (!dp_ns)
		return -1;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &mt);
	now = (int64_t)mt.tv_sec * 1000000000LL + mt.tv_nsec;
	return now > (int64_t)dp_ns ? (now - (int64_t)dp_ns) / 1000000000LL : 0;
}
