// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate gateway add|del|import|list|show.
 *
 * Enrolment changes the gateways file (atomically) and then the live maps
 * and nft sets by delta: the program is never reloaded and other gateways'
 * entries and counters are never touched.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "cli.h"
#include "compile.h"
#include "csv.h"
#include "json.h"
#include "log.h"
#include "lookup.h"
#include "rules.h"
#include "state.h"

static const char syn_add[] =
	"gateway add MAC|DEVICE-ID [--name NAME] [--services S,S|none] [--ip ADDR]... [--vlan ID] [--audit] [--replace]";
static const char syn_del[] = "gateway del MAC|DEVICE-ID|NAME";
static const char syn_show[] = "gateway show MAC|DEVICE-ID|NAME";
static const char syn_import[] = "gateway import [--replace] [--format gateways|csv] FILE";
static const char syn[] = "gateway add|del|import|list|show ...";

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= EDPG_NAME_MAX ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* Index by MAC (any accepted spelling) or name; -1 when absent. */
static ssize_t find_gw(const struct edpg_policy *p, const char *key)
{
	int i = edpg_policy_find_gateway(p, key);

	return i < 0 ? -1 : i;
}

/*
 * The same gateway as far as the filter is concerned: MAC, name, services
 * and bindings.  Where the services come from (uses_defaults) is left out
 * on purpose: a re-add or an import line without services, of a gateway
 * enrolled with an explicit list that is today's defaults, changes nothing
 * the filter enforces, so it stays the no-op it always was (no error, no
 * rewrite, and the gateway keeps its explicit list).  To switch a gateway
 * between an explicit list and the defaults, `--replace` compares the
 * origin as well (same_origin).
 */
static bool gw_equal(const struct edpg_gateway *a, const struct edpg_gateway *b)
{
	return !memcmp(a->mac, b->mac, 6) && !strcmp(a->name, b->name) &&
	       a->services == b->services && a->has_ip4 == b->has_ip4 &&
	       a->has_ip6 == b->has_ip6 && a->has_vlan == b->has_vlan &&
	       (!a->has_ip4 || !memcmp(a->ip4, b->ip4, 4)) &&
	       (!a->has_ip6 || !memcmp(a->ip6, b->ip6, 16)) &&
	       (!a->has_vlan || a->vlan == b->vlan) && a->audit == b->audit;
}

static bool same_origin(const struct edpg_gateway *a, const struct edpg_gateway *b)
{
	return a->uses_defaults == b->uses_defaults;
}

static void print_services(const struct edpg_policy *p, uint32_t bits, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t s = 0; s < p->nservices; s++)
		if (bits & (1U << s))
			off += snprintf(buf + off, off < len ? len - off : 0, "%s%s",
					off ? "," : "", p->services[s].name);
}

/*
 * Save the gateways file of @p: the durable half of every change, and
 * always the first half.  Every way a write fails (disk full, read-only or
 * unwritable state directory) shows up before the rename, and until the
 * rename the old file is whole and the live filter untouched, so a failed
 * save changes nothing anywhere.  Pushing first would leave the filter
 * enforcing a gateway the file does not know, undone by the next apply or
 * restart of the daemon.  Once the rename is done the file is the truth; a
 * push that fails after it is retried by `apply`.
 */
static int save_gateways(const struct edpg_policy *p)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int err;

	err = edpg_gateways_format(p, &text, &len);
	if (err)
		return edpg_err(err, "cannot format the gateways file");
	/* With a store, the site's list in etcd first (fleet.c). */
	err = cli_store_commit(text, len);
	if (err) {
		free(text);
		return err;
	}
	edpg_gateways_path(path, sizeof(path));
	err = edpg_write_atomic(path, text, len);
	free(text);
	if (err) {
		edpg_err(0, "cannot write the gateways file %s: %s; nothing was changed (the file and the live filter are as before); %s",
			 path, strerror(-err), edpg_write_hint(err));
		return err;
	}
	return 0;
}

/*
 * Before the gateways file changes: a pinned program this build cannot
 * write (another map layout, see edpg_bpf_open_pinned), or one without
 * room for @ngws gateways that may not grow, stops the command with
 * nothing changed, rather than leaving the file ahead of the filter.
 * *attached: false when nothing is pinned (the file is all there is).
 */
static int live_usable(struct edpg_bpf *b, const struct edpg_ifaces *ifs, size_t ngws,
		       bool *attached)
{
	int err;

	*attached = false;
	err = edpg_bpf_open_pinned(b, cli.pin_dir);
	if (err == -ENOENT)
		return 0;
	if (err == -EPROTO)
		return err;	/* open_pinned said what and why */
	if (err)
		return edpg_err(err, "cannot open the pinned program in %s", cli.pin_dir);
	*attached = true;
	/* Maps sized to the site grow here, before the file changes. */
	return edpg_bpf_make_room(b, cli.pin_dir, ifs, ngws, NULL, NULL);
}

/*
 * What the gateways file now asks and --enforce nft cannot do, worded by
 * the nft sink from the VLAN-bound gateways of @p alone (@base: @p's
 * compiled services), so an enrolment need not compile the site for it.
 */
static void warn_vlan(const struct edpg_policy *p, const struct edpg_desired *base,
		      const struct edpg_ifaces *ifs)
{
	const char *inames[EDPG_MAX_IFACES];
	struct edpg_desired *d = NULL;
	struct edpg_gateway *v = NULL;
	struct edpg_nft_opts no;
	char msg[320];
	size_t n = 0;

	edpg_nft_opts_from(ifs, &no, inames);
	if (no.enforce != EDPG_ENFORCE_NFT)
		return;
	for (size_t i = 0; i < p->ngateways; i++) {
		if (!p->gateways[i].has_vlan)
			continue;
		if (!v)
			v = malloc((p->ngateways - i) * sizeof(*v));
		if (!v)
			return;
		v[n++] = p->gateways[i];
	}
	if (n)
		d = malloc(sizeof(*d));
	if (d && !edpg_compile_gateways(base, v, n, d)) {
		if (edpg_nft_vlan_unchecked(d, &no, msg, sizeof(msg)))
			edpg_warn("%s", msg);
		edpg_desired_free(d);
	}
	free(d);
	free(v);
}

/* What is durable when a push fails: the sinks catch up at `apply`. */
static const char file_changed[] = "the gateways file has the change";

/*
 * An add or a delete changes one gateway: the delta is made from its
 * record before (@was) and after (@now), either NULL where it is not
 * enrolled, over @p's services; neither the site's destinations nor its
 * other gateways are compiled or compared (they are the same on both
 * sides, so they drop out of any delta).  -EAGAIN: a delta cannot carry
 * it, and the caller pushes the site compiled whole.
 */
static int push_one(const struct edpg_sinks *s, const struct edpg_policy *p,
		    const struct edpg_gateway *was, const struct edpg_gateway *now)
{
	struct edpg_sync_opts so = { .durable = file_changed,
				     .delta_only = true };
	struct edpg_desired *dold = NULL, *dnew;
	int err;

	dnew = malloc(sizeof(*dnew));
	if (!dnew)
		return -EAGAIN;
	err = edpg_compile_base(p, now, now ? 1 : 0, dnew);
	if (err) {
		free(dnew);
		return -EAGAIN;
	}
	dold = malloc(sizeof(*dold));
	err = dold ? edpg_compile_gateways(dnew, was, was ? 1 : 0, dold) : -ENOMEM;
	if (err) {
		free(dold);
		dold = NULL;
		err = -EAGAIN;
	} else {
		err = edpg_sync(s, dold, dnew, &so, NULL);
		/* After: the push that follows an -EAGAIN warns itself. */
		if (!err)
			warn_vlan(p, dnew, s->ifs);
	}
	edpg_desired_put(dold);		/* before dnew: it borrows its destinations */
	edpg_desired_put(dnew);
	return err;
}

/*
 * The live half of every enrolment change (add, del, import): edpg_sync()
 * from @old to @new, both compiled with the same names, read from the
 * address cache (no resolution: enrolment never waits on DNS), so the two
 * states differ only in gateways and the sync is a delta of just those.
 * With @was or @now (one gateway changed) push_one() tries first.
 */
static int push_gateways(struct edpg_bpf *b, const struct edpg_ifaces *ifs,
			 const struct edpg_policy *old, const struct edpg_policy *new,
			 const struct edpg_gateway *was, const struct edpg_gateway *now)
{
	/* Full when the pull from the store changed the base (fleet.c). */
	struct edpg_sync_opts so = { .durable = file_changed,
				     .full = cli_store_resynced() };
	struct edpg_sinks s = { .bpf = b, .ifs = ifs, .pin_dir = cli.pin_dir };
	struct edpg_desired *dold = NULL, *dnew = NULL;
	struct edpg_where w = edpg_cli_where();
	struct edpg_resolved *names = NULL;
	size_t nnames = 0;
	int err;

	if ((was || now) && !so.full) {
		err = push_one(&s, new, was, now);
		if (err != -EAGAIN)
			return err;
		/* The delta was refused (it warned): the site, whole. */
		so.full = true;
	}
	err = edpg_policy_names(new, &w, true, &names, &nnames);
	err = err ?: edpg_compile_for(new, ifs, names, nnames, &dnew);
	/* @old differs in gateways alone: its destinations are @new's. */
	if (!err) {
		dold = malloc(sizeof(*dold));
		err = dold ? edpg_compile_gateways_of(dnew, old, dold) : -ENOMEM;
		if (err) {
			free(dold);
			dold = NULL;
		}
	}
	if (err) {
		edpg_err(err, "cannot compile the policy; the gateways file has the change, `edpgate apply` retries");
	} else {
		warn_vlan(new, dnew, ifs);
		err = edpg_sync(&s, dold, dnew, &so, NULL);
	}
	edpg_resolved_free(names, nnames);
	edpg_desired_put(dold);		/* before dnew: it borrows its destinations */
	edpg_desired_put(dnew);
	return err;
}

/*
 * The gateways of @new in place of @old's, in this order: room in the
 * live maps (grown if need be), the gateways file, both sinks.  The pinned
 * program is opened once for the three.  @was, @now: see push_gateways().
 * 0 or -errno, each failure already reported; *live: attached.
 */
static int commit(const struct edpg_policy *old, const struct edpg_policy *new,
		  const struct edpg_gateway *was, const struct edpg_gateway *now, bool *live)
{
	struct edpg_ifaces ifs;
	struct edpg_bpf b;
	int err;

	*live = false;
	err = cli_ifaces(&ifs) ? -EIO : 0;
	/* A deletion needs no room. */
	err = err ?: live_usable(&b, &ifs, new->ngateways >= old->ngateways ? new->ngateways : 0,
				 live);
	err = err ?: save_gateways(new);
	if (!err && *live)
		err = push_gateways(&b, &ifs, old, new, was, now);
	if (*live)
		edpg_bpf_close(&b);
	return err;
}

static int services_parse(const struct edpg_policy *p, char *list, uint32_t *out)
{
	char *save = NULL;

	*out = 0;
	/* As in the gateways file: enrolled, but no service allowed yet. */
	if (!strcmp(list, "none"))
		return 0;
	for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		int id = edpg_policy_service_id(p, s);

		if (id < 0)
			return usage_err(syn_add, "unknown service '%s' (the rules file defines them)", s);
		*out |= 1U << id;
	}
	return 0;
}

static int gw_add(struct edpg_policy *p, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "services", required_argument, NULL, 's' },
		{ "ip", required_argument, NULL, 'i' },
		{ "vlan", required_argument, NULL, 'l' },
		{ "audit", no_argument, NULL, 'a' },
		{ "replace", no_argument, NULL, 'R' },
		{}
	};
	struct edpg_gateway g = {};
	bool replace = false, had_services = false;
	struct edpg_addr a;
	char msg[512], *end;
	unsigned long v;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!valid_name(optarg))
				return usage_err(syn_add, "invalid name '%s': letters, digits, '-' and '_', starting with a letter, at most %d",
						 optarg, EDPG_NAME_MAX - 1);
			snprintf(g.name, sizeof(g.name), "%s", optarg);
			break;
		case 's':
			if (services_parse(p, optarg, &g.services))
				return EDPG_EXIT_USAGE;
			had_services = true;
			break;
		case 'i':
			if (edpg_addr_parse(optarg, &a, false))
				return usage_err(syn_add, "invalid address '%s'", optarg);
			if (a.family == AF_INET) {
				if (g.has_ip4)
					return usage_err(syn_add, "at most one IPv4 address per gateway");
				g.has_ip4 = true;
				memcpy(g.ip4, a.addr, 4);
			} else {
				if (g.has_ip6)
					return usage_err(syn_add, "at most one IPv6 address per gateway");
				g.has_ip6 = true;
				memcpy(g.ip6, a.addr, 16);
			}
			break;
		case 'l':
			v = strtoul(optarg, &end, 10);
			if (*end || !*optarg || v < 1 || v > 4094)
				return usage_err(syn_add, "invalid VLAN '%s': 1..4094", optarg);
			g.has_vlan = true;
			g.vlan = v;
			break;
		case 'a':
			/* Observed, not enforced: --replace without it enforces. */
			g.audit = true;
			break;
		case 'R':
			replace = true;
			break;
		default:
			return usage_err(syn_add, "unknown option");
		}
	}
	if (optind != argc - 1)
		return usage_err(syn_add, "gateway add takes one MAC address or Device ID");
	err = edpg_mac_parse(argv[optind], g.mac);
	if (err)
		return usage_err(syn_add, "%s", edpg_mac_parse_msg(argv[optind], err, msg, sizeof(msg)));
	/* Without --services: the defaults, now and after the next change of them. */
	if (!had_services) {
		g.services = p->default_services;
		g.uses_defaults = true;
	}
	return gateway_enrol(p, &g, replace);
}

/*
 * The gateways @nv (@n of them; freed here) in place of @p's: room checked,
 * the gateways file written, both sinks given the change.  @p keeps its own
 * array (for edpg_policy_free); 0 or -errno, each failure already reported.
 * An addition may pass @p's own array grown by one (the old list is its
 * first p->ngateways): a site of 10,000 is then not copied for one more.
 */
static int commit_gateways(struct edpg_policy *p, struct edpg_gateway *nv, size_t n,
			   const struct edpg_gateway *was, const struct edpg_gateway *now,
			   bool *live)
{
	struct edpg_policy old = *p;	/* what the sinks hold: the delta's base */
	int err;

	p->gateways = nv;
	p->ngateways = n;
	err = commit(&old, p, was, now, live);
	p->gateways = old.gateways;
	p->ngateways = old.ngateways;
	if (nv != old.gateways)
		free(nv);
	return err;
}

int gateway_enrol(struct edpg_policy *p, const struct edpg_gateway *gw, bool replace)
{
	struct edpg_gateway g = *gw, *nv;
	bool live = false;
	ssize_t at, byname;
	char mac[18];
	int err;

	edpg_mac_format(g.mac, mac);
	at = find_gw(p, mac);
	byname = g.name[0] ? find_gw(p, g.name) : -1;
	if (byname >= 0 && byname != at)
		return edpg_err(-EEXIST, "the name '%s' belongs to another gateway", g.name),
		       EDPG_EXIT_FAIL;
	/* --replace takes the add as given: also where the services come from. */
	if (at >= 0 && gw_equal(&p->gateways[at], &g) &&
	    (!replace || same_origin(&p->gateways[at], &g))) {
		out_begin();
		out_obj_open(NULL);
		out_str("mac", "%s", mac);
		out_str("result", ": %s (already enrolled with these settings)\n", "unchanged");
		out_obj_close();
		return EDPG_EXIT_OK;
	}
	if (at >= 0 && !replace)
		return edpg_err(-EEXIST, "%s is already enrolled with other settings; add --replace to change them (see `edpgate gateway show %s`)",
				mac, mac), EDPG_EXIT_FAIL;
	if (at < 0) {
		nv = realloc(p->gateways, (p->ngateways + 1) * sizeof(*nv));
		if (nv)
			p->gateways = nv;
	} else {
		nv = malloc(p->ngateways * sizeof(*nv));
		if (nv)
			memcpy(nv, p->gateways, p->ngateways * sizeof(*nv));
	}
	if (!nv)
		return edpg_err(-ENOMEM, "out of memory"), EDPG_EXIT_FAIL;
	nv[at >= 0 ? (size_t)at : p->ngateways] = g;
	err = commit_gateways(p, nv, p->ngateways + (at < 0), at >= 0 ? &p->gateways[at] : NULL,
			      &nv[at >= 0 ? (size_t)at : p->ngateways], &live);
	if (err)
		return EDPG_EXIT_FAIL;
	out_begin();
	out_obj_open(NULL);
	out_str("mac", "%s", mac);
	out_str("result", ": %s", at >= 0 ? "replaced" : "enrolled");
	out_bool("live", live ? "\n" : " (saved; edpgate is not attached, so it takes effect at `edpgate attach`)\n",
		 live);
	out_obj_close();
	return EDPG_EXIT_OK;
}

static int gw_del(struct edpg_policy *p, int argc, char **argv)
{
	const struct edpg_gateway *g;
	struct edpg_gateway *nv;
	bool live = false;
	char mac[18];
	ssize_t at;
	int err;

	if (argc != 2)
		return usage_err(syn_del, "gateway del takes one MAC, Device ID or name");
	g = edpg_gw_lookup(p, argv[1]);
	if (!g)
		return EDPG_EXIT_FAIL;
	at = g - p->gateways;
	edpg_mac_format(p->gateways[at].mac, mac);
	nv = malloc((p->ngateways ? p->ngateways : 1) * sizeof(*nv));
	if (!nv)
		return edpg_err(-ENOMEM, "out of memory"), EDPG_EXIT_FAIL;
	memcpy(nv, p->gateways, at * sizeof(*nv));
	memcpy(nv + at, p->gateways + at + 1, (p->ngateways - at - 1) * sizeof(*nv));
	err = commit_gateways(p, nv, p->ngateways - 1, &p->gateways[at], NULL, &live);
	if (err)
		return EDPG_EXIT_FAIL;
	out_begin();
	out_obj_open(NULL);
	out_str("mac", "%s", mac);
	out_str("result", ": %s\n", "deleted");
	out_obj_close();
	return EDPG_EXIT_OK;
}

/* ---- gateway import ---------------------------------------------------- */

static uint64_t mac64(const uint8_t mac[6])
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = v << 8 | mac[i];
	return v;
}

struct imp_key {
	uint64_t mac;
	size_t idx;		/* into the parsed file's gateways */
};

static int imp_key_cmp(const void *a, const void *b)
{
	const struct imp_key *x = a, *y = b;

	return x->mac < y->mac ? -1 : x->mac > y->mac;
}

struct imp_counts {
	size_t same, replaced, conflicts;
	size_t nbase;		/* enrolled gateways the import leaves as they are */
};

/*
 * Sort the enrolled gateways of @p out against the import @file: the same
 * (a no-op: the file's copy takes the enrolled origin of its services),
 * replaced (with @replace), or left as they are, copied to @base (a
 * conflicting one too: the second parse reports it where it is).
 */
static int imp_sort_out(const struct edpg_policy *p, struct edpg_policy *file,
			struct edpg_gateway *base, bool replace, struct imp_counts *c)
{
	struct imp_key *keys;

	keys = malloc((file->ngateways ? file->ngateways : 1) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < file->ngateways; i++)
		keys[i] = (struct imp_key){ mac64(file->gateways[i].mac), i };
	qsort(keys, file->ngateways, sizeof(*keys), imp_key_cmp);
	for (size_t i = 0; i < p->ngateways; i++) {
		struct imp_key k = { mac64(p->gateways[i].mac), 0 }, *hit;

		hit = bsearch(&k, keys, file->ngateways, sizeof(*keys), imp_key_cmp);
		if (hit && gw_equal(&p->gateways[i], &file->gateways[hit->idx]) &&
		    (!replace || same_origin(&p->gateways[i], &file->gateways[hit->idx]))) {
			c->same++;
			file->gateways[hit->idx].uses_defaults = p->gateways[i].uses_defaults;
			continue;
		}
		if (hit && replace) {
			c->replaced++;
			continue;
		}
		c->conflicts += hit != NULL;
		base[c->nbase++] = p->gateways[i];
	}
	free(keys);
	return 0;
}

static void imp_report(const char *path, size_t added, size_t replaced, size_t same, bool live)
{
	out_begin();
	out_obj_open(NULL);
	out_str("file", "%s: ", path);
	out_uint("enrolled", "%llu enrolled", added);
	out_uint("replaced", ", %llu replaced", replaced);
	out_uint("unchanged", ", %llu unchanged", same);
	if (added || replaced)
		out_bool("live", live ? "\n" : " (saved; edpgate is not attached, so they take effect at `edpgate attach`)\n",
			 live);
	else
		out_bool("live", " (nothing to change)\n", false);
	out_obj_close();
}

static void diags_print(const struct edpg_diags *d)
{
	char line[1024];

	for (size_t i = 0; i < d->n; i++) {
		edpg_diags_format(&d->v[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
}



/*
 * gateway import [--replace] FILE: many `gateway` lines in one change.
 *
 * All or nothing.  The file is parsed twice with the real parser:
 *  1. alone (the rules' services, no enrolled gateway): syntax errors and
 *     duplicates inside the file, at FILE:LINE:COL;
 *  2. appended to the enrolled gateways it does not touch: a MAC enrolled
 *     with other settings (without --replace) or a name owned by another
 *     gateway is reported at FILE:LINE:COL too.
 * A line identical to an enrolled gateway is a no-op (so importing the same
 * file twice is harmless); one that differs is an error unless --replace,
 * which replaces that gateway whole, as `gateway add --replace` does.
 * Identical is gw_equal, as for `gateway add`: a line without services for
 * a gateway enrolled with an explicit list equal to the defaults (or the
 * other way round) is a no-op that keeps the enrolled gateway as it is,
 * and with --replace takes the line's origin of the services.
 * Gateways not in the file are never changed: import never deletes.
 * Then one atomic write of the gateways file, one nft transaction, one
 * batched map update.
 */
/*
 * The import text through the gateways parser; diagnostics of text made
 * from a CSV export point back into the CSV.
 */
static int import_parse(struct edpg_policy *p, const char *path, const char *text, size_t len,
			const struct edpg_csv_origin *origin, size_t norigin, struct edpg_diags *d)
{
	size_t from = d->n;
	int err = edpg_gateways_parse(p, path, text, len, d);

	if (origin) {
		edpg_csv_remap(d, from, origin, norigin);
		edpg_diags_sort(d->v, d->n);	/* the CSV's own errors among them */
	}
	return err;
}

static int gw_import(struct edpg_policy *p, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "replace", no_argument, NULL, 'R' },
		{ "format", required_argument, NULL, 'f' },
		{}
	};
	struct edpg_csv_origin *origin = NULL;
	size_t norigin = 0;
	bool csv = false;
	int csv_err = 0;
	struct edpg_policy file = *p, merged = *p;
	size_t added = 0, replaced = 0, same = 0, conflicts = 0, nbase = 0;
	struct edpg_diags d = {};
	struct imp_counts cnt = {};
	bool replace = false, live = false, reported = false;
	char *text = NULL;
	const char *path;
	size_t len;
	int c, err, ret = EDPG_EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'R')
			replace = true;
		else if (c == 'f' && (!strcmp(optarg, "csv") || !strcmp(optarg, "gateways")))
			csv = !strcmp(optarg, "csv");
		else if (c == 'f')
			return usage_err(syn_import, "--format '%s': want gateways or csv", optarg);
		else
			return usage_err(syn_import, "unknown option");
	}
	if (optind != argc - 1)
		return usage_err(syn_import, "gateway import takes one FILE");
	path = argv[optind];
	file.gateways = merged.gateways = NULL;
	file.ngateways = merged.ngateways = 0;
	err = edpg_read_file(path, &text, &len);
	if (err)
		return edpg_err(err, "cannot read %s", path), EDPG_EXIT_FAIL;
	if (csv) {
		/* A Remote Manager export: the same import, from gateway lines made of it. */
		char *gen;

		csv_err = edpg_csv_gateways(path, text, len, &gen, &len, &origin, &norigin, &d);
		if (csv_err == -ENOMEM) {
			err = csv_err;
			goto out;
		}
		free(text);
		text = gen;
	}

	/* 1. The file on its own (every problem of a bad CSV reported, too). */
	err = import_parse(&file, path, text, len, origin, norigin, &d);
	err = err ?: csv_err;
	if (err)
		goto out;

	/* Which enrolled gateways the file names, and how. */
	merged.gateways = malloc((p->ngateways ? p->ngateways : 1) * sizeof(*merged.gateways));
	if (!merged.gateways) {
		err = -ENOMEM;
		goto out;
	}
	err = imp_sort_out(p, &file, merged.gateways, replace, &cnt);
	if (err)
		goto out;
	same = cnt.same;
	replaced = cnt.replaced;
	conflicts = cnt.conflicts;
	nbase = cnt.nbase;
	added = file.ngateways - same - replaced;

	/* 2. The file against every gateway it leaves enrolled. */
	merged.ngateways = nbase;
	err = import_parse(&merged, path, text, len, origin, norigin, &d);
	if (err)
		goto out;
	/*
	 * The same text parsed again: its gateways follow the enrolled ones in
	 * the file's order.  Take the origin of the services settled above.
	 */
	for (size_t k = 0; k < file.ngateways && nbase + k < merged.ngateways; k++)
		merged.gateways[nbase + k].uses_defaults = file.gateways[k].uses_defaults;

	if (added || replaced) {
		err = commit(p, &merged, NULL, NULL, &live);
		reported = true;	/* both say what failed */
		if (err)
			goto out;
	}
	imp_report(path, added, replaced, same, live);
	ret = EDPG_EXIT_OK;
out:
	diags_print(&d);
	if (ret != EDPG_EXIT_OK && !reported) {
		if (conflicts && !replace)
			edpg_err(0, "%zu gateway(s) in %s are enrolled with other settings; `--replace` replaces them",
				 conflicts, path);
		if (err == -EINVAL)
			edpg_err(0, "%zu error(s) in %s; nothing was changed", d.nerrors, path);
		else
			edpg_err(err, "cannot import %s; nothing was changed", path);
	}
	edpg_diags_free(&d);
	free(file.gateways);
	free(merged.gateways);
	free(text);
	free(origin);
	return ret;
}

static void print_gw(const struct edpg_policy *p, const struct edpg_gateway *g,
		     const struct edpg_bpf *b, bool detail)
{
	char mac[18], svc[EDPG_MAX_SERVICES * EDPG_NAME_MAX], a[64], devid[EDPG_DEVID_STRLEN];
	struct edpg_gw live;
	bool is_live = b && !edpg_bpf_gw_get(b, g->mac, &live);
	int svc_w;

	edpg_mac_format(g->mac, mac);
	edpg_devid_format(g->mac, devid);
	print_services(p, g->services, svc, sizeof(svc));
	out_obj_open(NULL);
	out_str("mac", "%-17s", mac);
	out_str("device_id", "  %s", devid);
	out_str("name", "  %-16s", g->name[0] ? g->name : NULL);
	out_str("services", "  %s", svc);
	/* Text "edp-ssl,ntp (defaults)"; JSON "services_from": "defaults"|"gateway". */
	out_str("services_from", g->uses_defaults ? " (%s)" : NULL,
		g->uses_defaults ? "defaults" : "gateway");
	svc_w = (int)strlen(svc) + (g->uses_defaults ? (int)strlen(" (defaults)") : 0);
	out_text("%*s", svc_w < 24 ? 24 - svc_w : 0, "");
	if (g->has_ip4) {
		struct edpg_addr x = { .family = AF_INET, .plen = 32 };

		memcpy(x.addr, g->ip4, 4);
		edpg_addr_format(&x, a, sizeof(a));
		out_str("ip4", "  ip %s", a);
	}
	if (g->has_ip6) {
		struct edpg_addr x = { .family = AF_INET6, .plen = 128 };

		memcpy(x.addr, g->ip6, 16);
		edpg_addr_format(&x, a, sizeof(a));
		out_str("ip6", "  ip %s", a);
	}
	if (g->has_vlan)
		out_uint("vlan", "  vlan %llu", g->vlan);
	/* Text says it only when audited; JSON always has the field. */
	out_bool("audit", g->audit ? "  audit%.0s (observed, not enforced)" : NULL, g->audit);
	out_bool("live", "  live %s", is_live);
	if (detail && is_live) {
		struct edpg_gw_stats st;

		out_uint("slot", "\n  slot %llu", live.slot);
		if (!edpg_bpf_gw_stats(b, live.slot, &st)) {
			int64_t w = edpg_dp_time_to_wall(st.last_seen);
			char ts[32] = "never";

			if (w) {
				struct tm tm;

				strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&(time_t){ w }, &tm));
			}
			out_str("last_seen", "  last seen %s", w ? ts : NULL);
		}
	}
	out_text("\n");
	out_obj_close();
}

int do_gateway(int argc, char **argv)
{
	struct edpg_policy p;
	struct edpg_bpf b;
	bool have_b;
	int ret = EDPG_EXIT_OK;
	const char *sub;

	if (argc < 2)
		return usage_err(syn, "missing gateway subcommand");
	sub = argv[1];
	/* Before the lock: these take it themselves (cmd_pending.c). */
	if (!strcmp(sub, "pending"))
		return gateway_pending(argc - 1, argv + 1);
	if (!strcmp(sub, "add") && argc > 2 && !strcmp(argv[2], "--pending"))
		return gateway_pending_add(argc - 1, argv + 1);
	if (strcmp(sub, "add") && strcmp(sub, "del") && strcmp(sub, "import") &&
	    strcmp(sub, "list") && strcmp(sub, "show"))
		return usage_err(syn, "unknown gateway subcommand '%s'", sub);
	if (cli_lock())
		return EDPG_EXIT_FAIL;
	/* A change starts from the site's list when a store is configured. */
	if ((!strcmp(sub, "add") || !strcmp(sub, "del") || !strcmp(sub, "import")) &&
	    cli_store_pull())
		return EDPG_EXIT_FAIL;
	if (edpg_load_policy(&p, cli.rules, true))
		return EDPG_EXIT_FAIL;
	argc--;
	argv++;
	optind = 0;
	if (!strcmp(sub, "add")) {
		ret = gw_add(&p, argc, argv);
	} else if (!strcmp(sub, "del")) {
		ret = gw_del(&p, argc, argv);
	} else if (!strcmp(sub, "import")) {
		ret = gw_import(&p, argc, argv);
	} else {
		ssize_t at = -1;

		if (!strcmp(sub, "show")) {
			if (argc != 2) {
				ret = usage_err(syn_show, "gateway show takes one MAC, Device ID or name");
				goto out;
			}
			const struct edpg_gateway *g = edpg_gw_lookup(&p, argv[1]);

			if (!g) {
				ret = EDPG_EXIT_FAIL;
				goto out;
			}
			at = g - p.gateways;
		} else if (argc != 1) {
			ret = usage_err("gateway list", "gateway list takes no arguments");
			goto out;
		}
		have_b = edpg_bpf_open_pinned(&b, cli.pin_dir) == 0;
		out_begin();
		if (at >= 0) {
			print_gw(&p, &p.gateways[at], have_b ? &b : NULL, true);
		} else {
			out_arr_open(NULL);
			for (size_t i = 0; i < p.ngateways; i++)
				print_gw(&p, &p.gateways[i], have_b ? &b : NULL, false);
			out_arr_close();
			if (!p.ngateways)
				out_text("no gateway enrolled; `edpgate gateway add MAC` enrolls one\n");
		}
		if (have_b)
			edpg_bpf_close(&b);
	}
out:
	edpg_policy_free(&p);
	return ret;
}
