// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the capture reader of `replay` (loader/pcapfile.c):
 * every frame it returns lies inside the input, no read strays past it
 * (ASan), the reader always ends (each step consumes the input), and an
 * error always says what and where.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pcapfile.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_pcap: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edpg_pcap r;
	struct edpg_pcap_frame f;
	volatile uint8_t sink = 0;
	size_t last;
	int rc;

	if (edpg_pcap_open(&r, data, size)) {
		check(r.err[0] != '\0', "open error without a message");
		return 0;
	}
	for (;;) {
		last = r.off;
		rc = edpg_pcap_next(&r, &f);
		if (rc != 1)
			break;
		check(f.data >= data && f.caplen <= size && f.data - data <= (long)(size - f.caplen),
		      "frame outside the input");
		check(f.caplen <= EDPG_PCAP_MAX_FRAME, "frame above the limit");
		check(r.off > last, "no progress");
		for (uint32_t i = 0; i < f.caplen; i++)	/* touch every byte (ASan) */
			sink ^= f.data[i];
	}
	check(rc == 0 || (rc == -EINVAL && r.err[0] != '\0'), "end or an error with a message");
	check(r.off <= size, "offset past the input");
	(void)sink;
	return 0;
}
