// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * main.c - global options and subcommand dispatch.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "log.h"
#include "privilege.h"
#include "resolver.h"

struct edpg_cli cli = {
	.rules = "/etc/edpgate/edpgate.rules",
	.state_dir = "/var/lib/edpgate",
	.pin_dir = "/sys/fs/bpf/edpgate",
	.lock_fd = -1,
};

/*
 * What each command needs from the kernel, checked before it runs so that
 * a missing capability is one clear sentence instead of an EPERM from the
 * middle of a pipeline.  Read-only commands open the pinned maps with
 * BPF_F_RDONLY, so they also work where only read access to the pins is
 * granted (pins chmod 0400, or a read-only bpffs mount).  Subcommands
 * named in @ro_subs need only @ro_needs and read the pins read-only.
 */
#define RW	EDPG_NEED_WRITE
#define RO	EDPG_NEED_READ
#define NFT_RO	(EDPG_NEED_READ | EDPG_CAP(CAP_NET_ADMIN))	/* nf_tables reads need it too */

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
	uint64_t needs;
	bool rdonly;
	const char *ro_subs;	/* "list show": these need only RO */
} cmds[] = {
	{ "check", do_check, "check [FILE]                      validate the rules data", 0, false, NULL },
	{ "attach", do_attach, "attach IFACE [--mode native|generic|auto] [--enforce xdp|nft|both|audit]", RW, false, NULL },
	{ "enforce", do_enforce, "enforce [xdp|both|audit]          show or switch the mode, live", RW, false, NULL },
	{ "up", do_up, "up [--config FILE]                attach the interfaces of the config (service start)", RW, false, NULL },
	{ "upgrade", do_upgrade, "upgrade                           this build's program over the pinned one, no gap", RW, false, NULL },
	{ "detach", do_detach, "detach IFACE|--all", RW, false, NULL },
	{ "apply", do_apply, "apply                             push the rules data (atomic)", RW, false, NULL },
	{ "gateway", do_gateway, "gateway add|del|import|list|show ... manage enrolled gateways", RW, false, "list show pending" },
	{ "status", do_status, "status                            attached interfaces, policy summary", RO, true, NULL },
	{ "stats", do_stats, "stats [MAC|DEVICE-ID|NAME]        counters per gateway and reason", RO, true, NULL },
	{ "verify", do_verify, "verify                            compare BPF maps and nft with the rules", NFT_RO, true, NULL },
	{ "run", do_run, "run                               daemon: names fresh, snooped answers, expiry", RW, false, NULL },
	{ "dst", do_dst, "dst list                          destinations: group, name, address, source, TTL", RO, true, NULL },
	/* explain and replay run the program on a private copy: loading
	 * an XDP program takes CAP_NET_ADMIN as well. */
	{ "explain", do_explain, "explain MAC tcp|udp DST PORT      verdict and reason from the loaded program", RW, false, NULL },
	{ "replay", do_replay, "replay CAPTURE [--live]           verdict of every frame of a pcap/pcapng", RW, false, NULL },
	/* The ring buffer's consumer position is a writable mapping. */
	{ "watch", do_watch, "watch [MAC|DEVICE-ID|NAME]        live drop events (rate-limited)", RO, false, NULL },
	{ "learn", do_learn, "learn [MAC|DEVICE-ID|NAME] [--rules] what gateways tried and were refused", RO, true, NULL },
	{ "doctor", do_doctor, "doctor [MAC|DEVICE-ID|NAME]       findings and fixes from the counters", RO, true, NULL },
};

/* Is @sub one of the space-separated words of @list? */
static bool word_in(const char *list, const char *sub)
{
	size_t n = strlen(sub);

	for (const char *s = list; s && *s; s += strcspn(s, " "), s += strspn(s, " "))
		if (n && !strncmp(s, sub, n) && (s[n] == ' ' || s[n] == '\0'))
			return true;
	return false;
}

/* Capabilities and paths, before the command touches anything. */
static int preflight(const struct cmd *c, int argc, char **argv)
{
	uint64_t needs = c->needs;
	char what[64];

	snprintf(what, sizeof(what), "%s", c->name);
	if (c->ro_subs && argc > 1 && word_in(c->ro_subs, argv[1])) {
		needs = EDPG_NEED_READ;
		edpg_pins_rdonly = true;
		snprintf(what, sizeof(what), "%s %s", c->name, argv[1]);
	} else if (c->ro_subs && argc > 1) {
		snprintf(what, sizeof(what), "%s %s", c->name, argv[1]);
	}
	if (c->rdonly)
		edpg_pins_rdonly = true;
	if (edpg_check_path_opt("--rules", cli.rules, false))
		return -EINVAL;
	if (!needs)
		return 0;
	if (edpg_check_path_opt("--state-dir", cli.state_dir, true) || edpg_check_pin_dir(cli.pin_dir))
		return -EINVAL;
	return edpg_caps_require(what, needs);
}

static void help(FILE *f)
{
	fprintf(f, "usage: edpgate [-j|--json] [-v] [--rules FILE] [--state-dir DIR] [--pin-dir DIR]\n"
		   "               [--resolver ADDR[:PORT]]... [--conf FILE] [--store WORDS] [--site S]\n"
		   "               COMMAND ...\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s\n", cmds[i].help);
}

int usage_err(const char *synopsis, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	edpg_err(0, "%s", msg);
	if (synopsis)
		fprintf(stderr, "usage: edpgate %s\n", synopsis);
	return EDPG_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "rules", required_argument, NULL, 'r' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "resolver", required_argument, NULL, 'R' },
		{ "conf", required_argument, NULL, 'C' },
		{ "store", required_argument, NULL, 'S' },
		{ "site", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *conf = "/etc/edpgate/edpgate.conf", *store = NULL, *site = NULL;
	bool conf_given = false;
	int c, ret;

	/* '+': options after the subcommand belong to the subcommand. */
	while ((c = getopt_long(argc, argv, "+jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': edpg_json = true; break;
		case 'v': edpg_verbose++; break;
		case 'r': cli.rules = optarg; break;
		case 's': cli.state_dir = optarg; break;
		case 'p': cli.pin_dir = optarg; break;
		case 'R':
			if (cli.nresolvers == sizeof(cli.resolvers) / sizeof(cli.resolvers[0]) ||
			    edpg_resolver_parse_server(optarg, &(int){ 0 }, (uint8_t[16]){ 0 },
						       &(uint16_t){ 0 }))
				return usage_err(NULL, "--resolver '%s': want ADDR, ADDR:PORT or [V6]:PORT (at most 8)",
						 optarg);
			cli.resolvers[cli.nresolvers++] = optarg;
			break;
		case 'C': conf = optarg; conf_given = true; break;
		case 'S': store = optarg; break;
		case 'T': site = optarg; break;
		case 'h': help(stdout); return EDPG_EXIT_OK;
		default: help(stderr); return EDPG_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		help(stderr);
		return EDPG_EXIT_USAGE;
	}
	edpg_bpf_set_log(edpg_verbose);
	if (cli_store_configure(conf, conf_given, store, site))
		return EDPG_EXIT_USAGE;
	cli_store_rules();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[optind], cmds[i].name))
			continue;
		int sargc = argc - optind;
		char **sargv = argv + optind;

		ret = preflight(&cmds[i], sargc, sargv);
		if (ret)
			return ret == -EPERM ? EDPG_EXIT_FAIL : EDPG_EXIT_USAGE;
		/* Subcommands parse with getopt too: 0 restarts it. */
		optind = 0;
		ret = cmds[i].fn(sargc, sargv);
		out_end();
		cli_store_close();
		edpg_unlock(cli.lock_fd);
		return ret;
	}
	return usage_err(NULL, "unknown command '%s'; see `edpgate --help`", argv[optind]);
}
