// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kernel_report.c - what `doctor` says about the running kernel, from the
 * feature probes of the BPF sink (sinks/bpf_features.c).  Kept apart from
 * cmd_doctor.c, whose findings are about gateways and counters.
 */
#include <string.h>

#include "bpf_features.h"
#include "json.h"
#include "kernel_report.h"

void cli_kernel_report(void)
{
	const struct edpg_kfeat *f = edpg_kfeat_probe();

	out_obj_open("kernel");
	out_str("release", "kernel: Linux %s", f->release);
	out_str("floor", " (edpgate needs %s or later): ", EDPG_KERNEL_FLOOR);
	out_arr_open("missing");
	if (f->nmissing)
		out_text("lacks ");
	for (int i = 0; i < f->nmissing; i++) {
		out_text("%s", i ? ", " : "");
		out_str(NULL, "%s", f->missing[i]);
	}
	out_arr_close();
	if (!f->nmissing)
		out_text("%s", f->err ? "could not probe every feature" : "has every feature edpgate needs");
	out_bool("coarse_clock", NULL, f->coarse_clock);
	out_text("; data-path clock: %s\n", f->coarse_clock ?
		 "bpf_ktime_get_coarse_ns" : "bpf_ktime_get_ns (no coarse clock before 5.11)");
	if (f->err)
		out_str("probe_error", "  the probes could not all run: %s\n", strerror(-f->err));
	else
		out_str("probe_error", NULL, NULL);
	out_obj_close();
}
