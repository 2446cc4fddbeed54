/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * diag.h - the old catch-all header, kept only so that code not yet moved
 * to the split headers builds: include probe.h, lookup.h, dptime.h or
 * bpfmaps.h (the sink's readers) instead.
 */
#ifndef EDPG_DIAG_H
#define EDPG_DIAG_H

#include "bpfmaps.h"
#include "dptime.h"
#include "lookup.h"
#include "probe.h"

#endif
