/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef EDPG_KERNEL_REPORT_H
#define EDPG_KERNEL_REPORT_H

/*
 * The "kernel" block of `doctor` (text and JSON, inside the open object):
 * the release, the floor, what the kernel lacks of what edpgate needs, and
 * the data path's clock.
 */
void cli_kernel_report(void);

#endif
