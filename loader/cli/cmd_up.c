// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate up [--config FILE]: attach every interface the config file
 * lists, unless it is attached and nothing is missing.
 *
 * It is the service unit's ExecStartPre.  After a reboot the bpffs is
 * empty while STATE/interfaces still records the interfaces: attach of a
 * recorded interface restores it (program, maps refilled from the rules
 * data, gateways and address cache).  On a restart of the unit with
 * everything in place it changes nothing, so `systemctl restart` never
 * reloads the program or resets counters.
 *
 * The config file has one interface per line, with attach's options as
 * words:  IFACE [mode native|generic|auto] [enforce xdp|nft|both|audit]
 * [max-gateways N]; `#` starts a comment.  Errors are FILE:LINE:COL and
 * nothing is attached when any line is wrong.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "health.h"
#include "json.h"
#include "log.h"
#include "state.h"

static const char synopsis[] = "up [--config FILE]";

#define UP_DEFAULT_CONFIG "/etc/edpgate/interfaces"
#define UP_MAX_ARGS 9	/* attach --mode M --enforce E --max-gateways N IFACE */

struct up_line {
	char *argv[UP_MAX_ARGS + 1];
	int argc;
	const char *ifname;
};

struct up_conf {
	char *text;
	struct up_line v[EDPG_MAX_IFACES];
	size_t n;
};

static const struct {
	const char *word, *opt;
	const char *const values[5];	/* NULL-terminated; none = a number */
} up_keys[] = {
	{ "mode", "--mode", { "native", "generic", "auto", NULL } },
	{ "enforce", "--enforce", { "xdp", "nft", "both", "audit", NULL } },
	{ "max-gateways", "--max-gateways", { NULL } },
};

static int conf_err(const char *file, int line, const char *col0, const char *at,
		    const char *fmt, const char *word)
{
	fprintf(stderr, "%s:%d:%d: error: ", file, line, (int)(at - col0) + 1);
	fprintf(stderr, fmt, word);
	fputc('\n', stderr);
	return -EINVAL;
}

static bool valid_value(size_t k, const char *v)
{
	char *end;

	if (!up_keys[k].values[0]) {
		unsigned long n = strtoul(v, &end, 10);

		return *v && !*end && n >= 1 && n <= 1UL << 20;
	}
	for (size_t i = 0; up_keys[k].values[i]; i++)
		if (!strcmp(v, up_keys[k].values[i]))
			return true;
	return false;
}

/* One line: IFACE then KEY VALUE pairs, each key once.  Words are cut in
 * place in the file's text, which the argv pointers then point into. */
static int parse_line(const char *file, int lno, char *s, struct up_line *l)
{
	static const char ws[] = " \t\r";
	char *col0 = s, *word, *val;
	bool seen[sizeof(up_keys) / sizeof(up_keys[0])] = {};

	l->argc = 0;
	l->argv[l->argc++] = "attach";
	word = s + strspn(s, ws);
	s = word + strcspn(word, ws);
	if (*s)
		*s++ = '\0';
	if (strlen(word) >= IFNAMSIZ || strchr(word, '/') || !strcmp(word, ".") ||
	    !strcmp(word, ".."))
		return conf_err(file, lno, col0, word, "'%s' is not an interface name", word);
	l->ifname = word;
	for (;;) {
		size_t k;

		word = s + strspn(s, ws);
		if (!*word)
			break;
		s = word + strcspn(word, ws);
		if (*s)
			*s++ = '\0';
		for (k = 0; k < sizeof(up_keys) / sizeof(up_keys[0]); k++)
			if (!strcmp(word, up_keys[k].word))
				break;
		if (k == sizeof(up_keys) / sizeof(up_keys[0]))
			return conf_err(file, lno, col0, word,
					"unknown word '%s'; want mode, enforce or max-gateways", word);
		if (seen[k])
			return conf_err(file, lno, col0, word, "'%s' given twice", word);
		seen[k] = true;
		val = s + strspn(s, ws);
		s = val + strcspn(val, ws);
		if (*s)
			*s++ = '\0';
		if (!*val)
			return conf_err(file, lno, col0, val, "'%s' needs a value", word);
		if (!valid_value(k, val))
			return conf_err(file, lno, col0, val, "bad value '%s'", val);
		l->argv[l->argc++] = (char *)up_keys[k].opt;
		l->argv[l->argc++] = val;
	}
	l->argv[l->argc++] = (char *)l->ifname;
	l->argv[l->argc] = NULL;
	return 0;
}

static int conf_load(const char *file, struct up_conf *c)
{
	char *line, *next;
	size_t len;
	int lno = 0, err, bad = 0;

	memset(c, 0, sizeof(*c));
	err = edpg_read_file(file, &c->text, &len);
	if (err)
		return edpg_err(err, "cannot read %s; list the LAN interfaces there, one per line", file);
	for (line = c->text; line; line = next) {
		char *hash;

		lno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (!line[strspn(line, " \t\r")])
			continue;
		if (c->n == EDPG_MAX_IFACES) {
			fprintf(stderr, "%s:%d:1: error: at most %d interfaces\n", file, lno,
				EDPG_MAX_IFACES);
			bad++;
			break;
		}
		if (parse_line(file, lno, line, &c->v[c->n]))
			bad++;
		else
			c->n++;
	}
	for (size_t i = 0; i < c->n && !bad; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->v[i].ifname, c->v[j].ifname)) {
				fprintf(stderr, "%s: error: %s is listed twice\n", file, c->v[i].ifname);
				bad++;
			}
	if (bad) {
		free(c->text);
		c->text = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Attached and nothing missing that attach could put back. */
static bool is_up(const char *ifname)
{
	struct edpg_ifaces ifs;
	struct edpg_health *h;
	bool rec = false, up;

	if (edpg_ifaces_load(cli.state_dir, &ifs))
		return false;
	for (size_t i = 0; i < ifs.n; i++)
		rec |= !strcmp(ifs.v[i].name, ifname);
	if (!rec)
		return false;
	h = calloc(1, sizeof(*h));	/* large: not on the stack */
	if (!h)
		return false;
	edpg_health_check(cli.pin_dir, &ifs, h);
	up = !edpg_health_needs_repair(h, ifname);
	free(h);
	return up;
}

int do_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{}
	};
	const char *file = UP_DEFAULT_CONFIG;
	struct up_conf conf;
	int c, failed = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'c')
			return usage_err(synopsis, "unknown option");
		file = optarg;
	}
	if (optind != argc)
		return usage_err(synopsis, "up takes no arguments; interfaces come from --config");
	if (conf_load(file, &conf))
		return EDPG_EXIT_FAIL;

	/* One document: attach prints its object into this array. */
	out_begin();
	out_arr_open(NULL);
	for (size_t i = 0; i < conf.n; i++) {
		struct up_line *l = &conf.v[i];

		if (is_up(l->ifname)) {
			out_obj_open(NULL);
			out_str("interface", "%s: ", l->ifname);
			out_bool("unchanged", "already attached, nothing missing\n", true);
			out_obj_close();
			continue;
		}
		optind = 0;	/* attach parses its own options */
		if (do_attach(l->argc, l->argv) != EDPG_EXIT_OK)
			failed++;
		/* attach took the state lock; the next one takes it again. */
		edpg_unlock(cli.lock_fd);
		cli.lock_fd = -1;
	}
	out_arr_close();
	free(conf.text);
	if (failed)
		edpg_err(-EIO, "%d of %zu interfaces of %s could not be attached", failed, conf.n, file);
	return failed ? EDPG_EXIT_FAIL : EDPG_EXIT_OK;
}
