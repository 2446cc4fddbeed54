// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * health.c - the recorded attachment against the kernel's.
 *
 * Everything edpgate leaves behind lives in the kernel, held by pins: the
 * program and its maps, one bpf_link per interface, the snooper.  Each can
 * go away without us: `rm` in the pin directory, `bpftool link detach`,
 * an interface deleted (its link turns defunct: attached to ifindex 0).
 * The pins are only names, though: a map whose pin was removed lives on
 * while the program uses it, and the program lives on while a link holds
 * it.  So repair first looks for the live objects and pins them again
 * (nothing lost), and loads the program anew only when it is really gone.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "snoop.h"

const char *edpg_link_state_name(enum edpg_link_state s)
{
	switch (s) {
	case EDPG_LINK_OK: return "ok";
	case EDPG_LINK_NOT_WANTED: return "none";
	case EDPG_LINK_NOT_PINNED: return "not_pinned";
	case EDPG_LINK_DEFUNCT: return "defunct";
	case EDPG_LINK_ELSEWHERE: return "elsewhere";
	case EDPG_LINK_UNREADABLE: return "unreadable";
	}
	return "?";
}

static void problem(struct edpg_health *h, const char *where, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void problem(struct edpg_health *h, const char *where, const char *code,
		    const char *fmt, ...)
{
	struct edpg_problem *p;
	va_list ap;

	if (h->n == EDPG_HEALTH_MAX)
		return;
	p = &h->p[h->n++];
	snprintf(p->where, sizeof(p->where), "%s", where);
	snprintf(p->code, sizeof(p->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(p->what, sizeof(p->what), fmt, ap);
	va_end(ap);
}

static bool pinned(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return access(path, F_OK) == 0;
}

static bool if_up(const char *ifname)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up = false;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr))
		up = ifr.ifr_flags & IFF_UP;
	close(fd);
	return up;
}

/* The link pinned for @ifname: its id, program and interface. */
static enum edpg_link_state read_link(const char *pin_dir, const char *ifname, int ifindex,
				      struct edpg_if_health *ih)
{
	struct edpg_bpf_link l;
	int err;

	err = edpg_bpf_link_read(pin_dir, ifname, &l);
	if (err)
		return err == -ENOENT ? EDPG_LINK_NOT_PINNED : EDPG_LINK_UNREADABLE;
	ih->link_id = l.id;
	ih->link_prog_id = l.prog_id;
	ih->link_ifindex = l.ifindex;
	/* A detached or orphaned XDP link reports ifindex 0. */
	if (!l.ifindex)
		return EDPG_LINK_DEFUNCT;
	return (int)l.ifindex == ifindex ? EDPG_LINK_OK : EDPG_LINK_ELSEWHERE;
}

static void check_iface(struct edpg_health *h, const char *pin_dir, const struct edpg_iface *rec,
			struct edpg_if_health *ih)
{
	const char *n = rec->name;
	uint32_t ids[3];
	char name[32];
	bool want = strcmp(rec->enforce, "nft") != 0;

	memset(ih, 0, sizeof(*ih));
	ih->ifindex = if_nametoindex(n);
	ih->link = want ? read_link(pin_dir, n, ih->ifindex, ih) : EDPG_LINK_NOT_WANTED;
	if (!ih->ifindex) {
		if (rec->ifindex)
			problem(h, n, "iface_missing",
				"%s does not exist: interface was deleted (ifindex %d gone)%s; re-create it, then run `edpgate attach %s`",
				n, rec->ifindex, want ? " and its XDP link is defunct" : "", n);
		else
			problem(h, n, "iface_missing",
				"%s does not exist (deleted?); re-create it, then run `edpgate attach %s`",
				n, n);
		return;
	}
	ih->up = if_up(n);
	ih->snooper = edpg_snoop_is_attached_quiet(n, false);
	ih->snooper_q = edpg_snoop_is_attached_quiet(n, true);
	/* With --enforce nft the XDP hook is not ours to judge. */
	if (want && !edpg_bpf_xdp_prog_ids(ih->ifindex, ids)) {
		uint32_t ours = ih->link == EDPG_LINK_OK ? ih->link_prog_id : 0;

		for (size_t i = 0; i < 3; i++)
			if (ids[i] && ids[i] != ours)
				ih->foreign_id = ids[i];
	}
	switch (ih->link) {
	case EDPG_LINK_OK:
	case EDPG_LINK_NOT_WANTED:
		break;
	case EDPG_LINK_NOT_PINNED:
		problem(h, n, "link_not_pinned",
			"%s: recorded as attached (%s) but no XDP link is pinned; run `edpgate attach %s`",
			n, rec->xdp_mode, n);
		break;
	case EDPG_LINK_DEFUNCT:
		if (rec->ifindex && rec->ifindex != ih->ifindex)
			problem(h, n, "link_defunct_deleted",
				"link to %s is defunct: interface was deleted (ifindex %d gone; %s is now ifindex %d); run `edpgate attach %s`",
				n, rec->ifindex, n, ih->ifindex, n);
		else
			problem(h, n, "link_defunct_detached",
				"link to %s is defunct: the program was detached behind edpgate's back (link id %u); run `edpgate attach %s`",
				n, ih->link_id, n);
		break;
	case EDPG_LINK_ELSEWHERE:
		problem(h, n, "link_elsewhere",
			"link to %s is attached to ifindex %u, but %s is ifindex %d; run `edpgate attach %s`",
			n, ih->link_ifindex, n, ih->ifindex, n);
		break;
	case EDPG_LINK_UNREADABLE:
		problem(h, n, "link_unreadable", "the link pin of %s cannot be read (%s)", n,
			strerror(errno));
		break;
	}
	if (ih->foreign_id) {
		edpg_bpf_prog_name(ih->foreign_id, name, sizeof(name));
		problem(h, n, "foreign_xdp",
			"%s runs another XDP program (id %u, %s) instead of edpgate's; remove it (`ip link set %s xdp off`), then run `edpgate attach %s`",
			n, ih->foreign_id, name, n, n);
	}
	if (!ih->snooper)
		problem(h, n, "snooper_missing",
			"%s: the DNS snooper is not attached (answers to gateways are not learnt); run `edpgate attach %s`",
			n, n);
	/* Without its question side the snooper cannot tell an answer to a
	 * gateway's question from a spoofed one. */
	else if (!ih->snooper_q)
		problem(h, n, "snooper_q_missing",
			"%s: the DNS snooper's question side is not attached (answers are not matched to questions); run `edpgate attach %s`",
			n, n);
	if (!ih->up)
		problem(h, n, "iface_down",
			"%s is down; the filter stays attached and enforces when it comes up (`ip link set %s up`)",
			n, n);
}

int edpg_health_check(const char *pin_dir, const struct edpg_ifaces *ifs, struct edpg_health *h)
{
	const char *first = ifs->n ? ifs->v[0].name : "IFACE";
	const char *const *snoop_names = edpg_snoop_pins;
	bool map_pinned[EDPG_M_MAX], snoop_pinned[EDPG_SNOOP_NPINS];

	memset(h, 0, sizeof(*h));
	h->prog_pinned = pinned(pin_dir, "prog");
	h->any_pinned = h->prog_pinned;
	for (int i = 0; i < EDPG_M_MAX; i++)
		h->any_pinned |= map_pinned[i] = pinned(pin_dir, edpg_map_names[i]);
	for (int i = 0; i < EDPG_SNOOP_NPINS; i++)
		h->any_pinned |= snoop_pinned[i] = pinned(pin_dir, snoop_names[i]);
	if (!h->any_pinned && ifs->n) {
		problem(h, "pins", "pins_gone",
			"nothing is pinned in %s (the pins were removed): the program, its maps and the XDP links are gone; run `edpgate attach %s`",
			pin_dir, first);
	} else if (h->any_pinned) {
		if (!h->prog_pinned)
			problem(h, "pins", "prog_pin_missing",
				"program pin prog missing; run `edpgate attach %s`", first);
		for (int i = 0; i < EDPG_M_MAX; i++)
			if (!map_pinned[i])
				problem(h, "pins", "map_pin_missing",
					"map pin %s missing; run `edpgate attach %s`",
					edpg_map_names[i], first);
		for (int i = 0; i < EDPG_SNOOP_NPINS && ifs->n; i++)
			if (!snoop_pinned[i])
				problem(h, "pins", "snooper_pin_missing",
					"snooper pin %s missing; run `edpgate attach %s`",
					snoop_names[i], first);
	}
	h->nifs = ifs->n;
	for (size_t i = 0; i < ifs->n; i++)
		check_iface(h, pin_dir, &ifs->v[i], &h->ifs[i]);
	return 0;
}

bool edpg_problem_repairable(const struct edpg_problem *p)
{
	return strcmp(p->code, "iface_down") && strcmp(p->code, "iface_missing") &&
	       strcmp(p->code, "foreign_xdp");
}

bool edpg_health_needs_repair(const struct edpg_health *h, const char *ifname)
{
	for (size_t i = 0; i < h->n; i++) {
		const struct edpg_problem *p = &h->p[i];
		bool held = false;

		if (!edpg_problem_repairable(p))
			continue;
		if (!strcmp(p->where, "pins") || (ifname && !strcmp(p->where, ifname)))
			return true;
		if (ifname)
			continue;
		/* Without a name (the daemon): not an interface another
		 * program holds, which only its owner can free. */
		for (size_t j = 0; j < h->n; j++)
			held |= !strcmp(h->p[j].where, p->where) &&
				!strcmp(h->p[j].code, "foreign_xdp");
		if (!held)
			return true;
	}
	return false;
}

/* ---- repair ------------------------------------------------------------ */

static enum edpg_xdp_mode rec_mode(const struct edpg_iface *rec)
{
	return !strcmp(rec->xdp_mode, "native") ? EDPG_XDP_NATIVE :
	       !strcmp(rec->xdp_mode, "generic") ? EDPG_XDP_GENERIC : EDPG_XDP_AUTO;
}

static int repair_iface(const char *pin_dir, struct edpg_iface *rec, struct edpg_bpf *b,
			bool snoop_reload, struct edpg_restored *r)
{
	struct edpg_health h1;
	struct edpg_ifaces one = { .n = 1 };
	struct edpg_if_health *ih = &h1.ifs[0];
	enum edpg_xdp_mode used;
	char path[PATH_MAX];
	int err;

	one.v[0] = *rec;
	edpg_health_check(pin_dir, &one, &h1);
	if (!ih->ifindex)
		return edpg_err(-ENODEV, "%s does not exist; re-create it, then run `edpgate attach %s`",
				rec->name, rec->name);
	if (ih->link != EDPG_LINK_OK && ih->link != EDPG_LINK_NOT_WANTED) {
		if (ih->foreign_id)
			return edpg_err(-EBUSY, "%s runs another XDP program (id %u); remove it (`ip link set %s xdp off`), then run `edpgate attach %s` again",
					rec->name, ih->foreign_id, rec->name, rec->name);
		/* A defunct link pinned under our name would block the new one. */
		edpg_bpf_link_path(path, sizeof(path), pin_dir, rec->name);
		if (unlink(path) && errno != ENOENT)
			return edpg_err(-errno, "cannot remove the defunct link pin %s", path);
		err = edpg_bpf_attach(b, pin_dir, rec->name, rec_mode(rec), &used);
		if (err)
			return err;
		snprintf(rec->xdp_mode, sizeof(rec->xdp_mode), "%s",
			 used == EDPG_XDP_NATIVE ? "native" : "generic");
		edpg_restored_add(r, "XDP link on %s (%s)", rec->name, rec->xdp_mode);
	}
	if (snoop_reload || !ih->snooper || !ih->snooper_q) {
		err = edpg_snoop_attach(b, pin_dir, rec->name);
		if (err)
			return err;
		edpg_restored_add(r, "DNS snooper on %s", rec->name);
	}
	rec->ifindex = ih->ifindex;
	return 0;
}

int edpg_health_repair(const char *pin_dir, struct edpg_ifaces *ifs, const char *only,
		       const struct edpg_held *held, struct edpg_bpf *b, struct edpg_restored *r)
{
	bool snoop_reload = false;
	int err, ret = 0;

	memset(r, 0, sizeof(*r));
	/* Closable whatever happens below. */
	edpg_bpf_init(b);
	err = edpg_bpf_repin(pin_dir, ifs, held ? held->bpf : NULL, b, r);
	if (err)
		return err;
	err = edpg_snoop_repin(pin_dir, held, r->reloaded, r, &snoop_reload);
	if (err)
		goto out;
	snoop_reload |= r->reloaded;
	for (size_t i = 0; i < ifs->n; i++) {
		bool mine = only ? !strcmp(ifs->v[i].name, only) : true;
		bool exists = if_nametoindex(ifs->v[i].name) != 0;

		/*
		 * A snooper loaded anew replaces the old one everywhere: the
		 * old one feeds a ring buffer nobody reads any more.  Without
		 * @only (the daemon), an interface that is missing or taken
		 * by another program does not stop the others.
		 */
		if (mine && (exists || only))
			err = repair_iface(pin_dir, &ifs->v[i], b, snoop_reload, r);
		else if (snoop_reload && exists && !edpg_snoop_attach(b, pin_dir, ifs->v[i].name))
			edpg_restored_add(r, "DNS snooper on %s", ifs->v[i].name);
		if (err && only)
			goto out;
		ret = ret ?: err;
		err = 0;
	}
	return ret;
out:
	edpg_bpf_close(b);
	return err;
}
