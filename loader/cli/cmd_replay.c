// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate replay CAPTURE [--live]: every Ethernet frame of a pcap or pcapng
 * capture through the real program, one verdict per frame.
 *
 * The program is a private instance (nothing attached, nothing pinned
 * needed): by default it is filled from the rules data as `apply` would
 * compile it (names from the address cache, no DNS), so an admin can ask
 * "what would this capture do" before deploying; with --live it shares the
 * pinned policy maps instead and answers "what does the running filter do".
 * Either way it writes nothing shared (dry_run).
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <stdlib.h>

#include "addr.h"
#include "cli.h"
#include "json.h"
#include "log.h"
#include "lookup.h"
#include "pcapfile.h"
#include "probe.h"
#include "rules.h"
#include "state.h"

static const char synopsis[] = "replay CAPTURE.pcap|.pcapng [--live]";

int do_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "live", no_argument, NULL, 'l' },
		{}
	};
	struct edpg_global snap[EDPG_R_MAX];
	struct edpg_desired *d = NULL;
	struct edpg_bpf live, priv;
	struct edpg_policy p;
	struct edpg_pcap_frame fr;
	struct edpg_pcap pc;
	char *cap = NULL;
	size_t caplen;
	bool use_live = false, have_live = false, have_priv = false;
	uint64_t nframes = 0, npass = 0;
	int c, rc, err, ret = EDPG_EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'l')
			return usage_err(synopsis, "unknown option");
		use_live = true;
	}
	if (argc - optind != 1)
		return usage_err(synopsis, "replay takes one capture file");
	if (edpg_load_policy(&p, cli.rules, true))
		return EDPG_EXIT_FAIL;
	err = edpg_read_file(argv[optind], &cap, &caplen);
	if (err) {
		edpg_err(err, "cannot read %s", argv[optind]);
		goto out;
	}
	if (edpg_pcap_open(&pc, (const uint8_t *)cap, caplen)) {
		edpg_err(-EINVAL, "%s: %s", argv[optind], pc.err);
		goto out;
	}
	if (use_live) {
		if (edpg_open_live(&live))
			goto out;
		have_live = true;
		if (edpg_bpf_load_private(&priv, &live, NULL))
			goto out;
		have_priv = true;
	} else {
		err = edpg_build_desired(&p, true, &d);
		if (err)
			goto out;
		/* Sized for this policy: the default capacity costs tens of
		 * MB of per-CPU counters for a one-shot question. */
		struct edpg_load_opts lo = {
			.max_gateways = d->ngws + 16,
			.max_dst = d->ndsts + 16,
		};

		if (edpg_bpf_load_private(&priv, NULL, &lo))
			goto out;
		have_priv = true;
		err = edpg_bpf_apply(&priv, d);
		if (err) {
			edpg_err(err, "cannot fill the private instance with the rules data");
			goto out;
		}
	}
	err = edpg_bpf_global(&priv, snap);
	if (err) {
		edpg_err(err, "cannot read the private counters");
		goto out;
	}

	out_begin();
	out_arr_open(NULL);
	while ((rc = edpg_pcap_next(&pc, &fr)) == 1) {
		const struct edpg_gateway *g = NULL;
		struct edpg_outcome res;
		char mac[EDPG_MAC_STRLEN] = "-";

		nframes++;
		/* A truncated capture (snaplen) would be judged on less than
		 * the program saw: say so rather than guess. */
		if (fr.caplen < fr.len)
			edpg_warn("frame %llu: captured %u of %u bytes; verdict is for the captured part",
				  (unsigned long long)nframes, fr.caplen, fr.len);
		err = edpg_verdict_run(&priv, snap, fr.data, fr.caplen, &res);
		if (err) {
			edpg_err(err, "frame %llu (%u bytes): the test run failed",
				 (unsigned long long)nframes, fr.caplen);
			goto out_arr;
		}
		if (res.verdict == EDPG_V_PASS)
			npass++;
		if (fr.caplen >= 12) {
			edpg_mac_format(fr.data + 6, mac);
			g = edpg_gw_by_mac(&p, fr.data + 6);
		}
		out_obj_open(NULL);
		out_uint("frame", "%6llu", nframes);
		out_str("verdict", " %-4s", res.verdict == EDPG_V_PASS ? "pass" : "drop");
		out_str("reason", " %-11s", edpg_reason_names[res.reason]);
		out_bool("audited", NULL, res.would);
		out_uint("len", res.would ? " %5llu (audit: passed)" : " %5llu", fr.caplen);
		out_str("mac", " %s", fr.caplen >= 12 ? mac : NULL);
		out_str("gateway", " %s\n", g ? (g->name[0] ? g->name : mac) : NULL);
		out_obj_close();
	}
	if (rc < 0) {
		edpg_err(rc, "%s: %s", argv[optind], pc.err);
		goto out_arr;
	}
	out_text("%llu frames: %llu pass, %llu drop\n", (unsigned long long)nframes,
		 (unsigned long long)npass, (unsigned long long)(nframes - npass));
	ret = EDPG_EXIT_OK;
out_arr:
	out_arr_close();
out:
	free(cap);
	if (have_priv)
		edpg_bpf_close(&priv);
	if (have_live)
		edpg_bpf_close(&live);
	edpg_desired_put(d);
	edpg_policy_free(&p);
	return ret;
}
