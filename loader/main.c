// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * main.c - global options and subcommand dispatch.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "json.h"
#include "log.h"
#include "resolver.h"

struct edpg_cli cli = {
	.rules = "/etc/edpgate/edpgate.rules",
	.state_dir = "/var/lib/edpgate",
	.pin_dir = "/sys/fs/bpf/edpgate",
	.lock_fd = -1,
};

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "check", do_check, "check [FILE]                      validate the rules data" },
	{ "attach", do_attach, "attach IFACE [--mode native|generic|auto] [--enforce xdp|nft|both]" },
	{ "up", do_up, "up [--config FILE]                attach the interfaces of the config (service start)" },
	{ "upgrade", do_upgrade, "upgrade                           this build's program over the pinned one, no gap" },
	{ "detach", do_detach, "detach IFACE|--all" },
	{ "apply", do_apply, "apply                             push the rules data (atomic)" },
	{ "gateway", do_gateway, "gateway add|del|import|list|show ... manage enrolled gateways" },
	{ "status", do_status, "status                            attached interfaces, policy summary" },
	{ "stats", do_stats, "stats [MAC|NAME]                  counters per gateway and reason" },
	{ "verify", do_verify, "verify                            compare BPF maps and nft with the rules" },
	{ "run", do_run, "run                               daemon: names fresh, snooped answers, expiry" },
	{ "dst", do_dst, "dst list                          destinations: group, name, address, source, TTL" },
	{ "explain", do_explain, "explain MAC tcp|udp DST PORT      verdict and reason from the loaded program" },
	{ "replay", do_replay, "replay CAPTURE [--live]           verdict of every frame of a pcap/pcapng" },
	{ "watch", do_watch, "watch [MAC|NAME]                  live drop events (rate-limited)" },
	{ "doctor", do_doctor, "doctor [MAC|NAME]                 findings and fixes from the counters" },
};

static void help(FILE *f)
{
	fprintf(f, "usage: edpgate [-j|--json] [-v] [--rules FILE] [--state-dir DIR] [--pin-dir DIR]\n"
		   "               [--resolver ADDR[:PORT]]... COMMAND ...\n\n"
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

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* The verifier log is long; only -v wants it. */
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !edpg_verbose) ||
	    (level == LIBBPF_WARN && !edpg_verbose))
		return 0;
	return vfprintf(stderr, fmt, ap);
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
		{ "help", no_argument, NULL, 'h' },
		{}
	};
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
		case 'h': help(stdout); return EDPG_EXIT_OK;
		default: help(stderr); return EDPG_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		help(stderr);
		return EDPG_EXIT_USAGE;
	}
	libbpf_set_print(libbpf_print);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[optind], cmds[i].name))
			continue;
		int sargc = argc - optind;
		char **sargv = argv + optind;

		/* Subcommands parse with getopt too: 0 restarts it. */
		optind = 0;
		ret = cmds[i].fn(sargc, sargv);
		out_end();
		edpg_unlock(cli.lock_fd);
		return ret;
	}
	return usage_err(NULL, "unknown command '%s'; see `edpgate --help`", argv[optind]);
}
