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
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "health.h"
#include "log.h"
#include "snoop.h"

#define PROG_NAME "edpgate_xdp"

static const char *const snoop_maps[] = { EDPG_SNOOP_PIN_RB, EDPG_SNOOP_PIN_LOST };
const char *const edpg_snoop_pins[EDPG_SNOOP_NPINS] = {
	EDPG_SNOOP_PIN_PROG, EDPG_SNOOP_PIN_RB, EDPG_SNOOP_PIN_LOST, EDPG_SNOOP_PIN_PROG_Q,
};

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
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	edpg_bpf_link_path(path, sizeof(path), pin_dir, ifname);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? EDPG_LINK_NOT_PINNED : EDPG_LINK_UNREADABLE;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return EDPG_LINK_UNREADABLE;
	}
	close(fd);
	ih->link_id = info.id;
	ih->link_prog_id = info.prog_id;
	ih->link_ifindex = info.xdp.ifindex;
	/* A detached or orphaned XDP link reports ifindex 0. */
	if (!info.xdp.ifindex)
		return EDPG_LINK_DEFUNCT;
	return (int)info.xdp.ifindex == ifindex ? EDPG_LINK_OK : EDPG_LINK_ELSEWHERE;
}

/* Quietly: without a clsact qdisc the kernel's answer is an error libbpf
 * would print, once a second in the daemon. */
static bool snooper_attached(const char *ifname, bool questions)
{
	libbpf_print_fn_t old = libbpf_set_print(NULL);
	bool on = edpg_snoop_is_attached(ifname, questions);

	libbpf_set_print(old);
	return on;
}

static void prog_name(uint32_t id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(buf, len, "?");
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
		snprintf(buf, len, "%s", info.name[0] ? info.name : "unnamed");
	close(fd);
}

static void check_iface(struct edpg_health *h, const char *pin_dir, const struct edpg_iface *rec,
			struct edpg_if_health *ih)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	const char *n = rec->name;
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
	ih->snooper = snooper_attached(n, false);
	ih->snooper_q = snooper_attached(n, true);
	/* With --enforce nft the XDP hook is not ours to judge. */
	if (want && !bpf_xdp_query(ih->ifindex, 0, &q)) {
		uint32_t ids[] = { q.drv_prog_id, q.skb_prog_id, q.hw_prog_id };
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
		prog_name(ih->foreign_id, name, sizeof(name));
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

static void restored(struct edpg_restored *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void restored(struct edpg_restored *r, const char *fmt, ...)
{
	va_list ap;

	if (r->n == EDPG_RESTORED_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(r->v[r->n++], sizeof(r->v[0]), fmt, ap);
	va_end(ap);
}

/* A program's name, and whether it is the one we look for. */
static bool prog_is(int fd, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, name);
}

static uint32_t obj_prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * The program a pinned link of a recorded interface still holds: @held's
 * when it is that one (no privilege needed), else by id (CAP_SYS_ADMIN).
 * -EPERM when a link is live but its program out of reach: then nothing
 * may be reloaded over it.
 */
static int prog_from_links(const char *pin_dir, const struct edpg_ifaces *ifs,
			   const struct edpg_bpf *held, const char **from)
{
	uint32_t hid = held && held->prog_fd >= 0 ? obj_prog_id(held->prog_fd) : 0;
	int ret = -ENOENT;

	for (size_t i = 0; i < ifs->n; i++) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		char path[PATH_MAX];
		int lfd, fd;

		edpg_bpf_link_path(path, sizeof(path), pin_dir, ifs->v[i].name);
		lfd = bpf_obj_get(path);
		if (lfd < 0)
			continue;
		fd = -1;
		if (!bpf_obj_get_info_by_fd(lfd, &info, &len) && info.prog_id) {
			if (info.prog_id == hid)
				fd = dup(held->prog_fd);
			else
				fd = bpf_prog_get_fd_by_id(info.prog_id);
			if (fd < 0 && info.xdp.ifindex)
				ret = -errno;
		}
		close(lfd);
		if (fd >= 0 && prog_is(fd, PROG_NAME)) {
			*from = ifs->v[i].name;
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}
	return ret;
}

/* Pin again the maps of @held whose pins are missing (no privilege
 * needed: the daemon has them open). */
static int repin_held(const struct edpg_bpf *held, const char *pin_dir, struct edpg_restored *r)
{
	char path[PATH_MAX];

	for (int i = 0; i < EDPG_M_MAX; i++) {
		if (pinned(pin_dir, edpg_map_names[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, edpg_map_names[i]);
		if (bpf_obj_pin(held->map_fd[i], path))
			return edpg_err(-errno, "cannot pin %s", path);
		restored(r, "map pin %s", edpg_map_names[i]);
	}
	return 0;
}

/* Pin again every map of @names whose pin is missing, taken from the maps
 * @prog_fd uses (a map lives as long as a program using it). */
static int repin_maps(int prog_fd, const char *pin_dir, const char *const *names, size_t n,
		      struct edpg_restored *r)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64];
	char path[PATH_MAX];
	int err = 0;

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	if (info.nr_map_ids > 64)
		return -E2BIG;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	for (size_t k = 0; k < n && !err; k++) {
		bool found = false;

		if (pinned(pin_dir, names[k]))
			continue;
		for (__u32 i = 0; i < info.nr_map_ids && !found; i++) {
			struct bpf_map_info mi = {};
			__u32 mlen = sizeof(mi);
			int fd = bpf_map_get_fd_by_id(ids[i]);

			if (fd < 0 && (errno == EPERM || errno == EACCES))
				return -errno;	/* the caller says what to do */
			if (fd < 0)
				continue;
			if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) &&
			    !strncmp(mi.name, names[k], sizeof(mi.name) - 1)) {
				found = true;
				snprintf(path, sizeof(path), "%s/%s", pin_dir, names[k]);
				if (bpf_obj_pin(fd, path))
					err = edpg_err(-errno, "cannot pin %s", path);
				else
					restored(r, "map pin %s", names[k]);
			}
			close(fd);
		}
		if (!found && !err)
			err = edpg_err(-ENOENT, "map %s is not used by the running program; `edpgate detach --all` and attach again",
				       names[k]);
	}
	return err;
}

static void unpin(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	unlink(path);
}

/* The gateway capacity of a surviving counter map, so a reload keeps it. */
static uint32_t old_capacity(const char *pin_dir)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	uint32_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, edpg_map_names[EDPG_M_GW_STATS]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		n = info.max_entries;
	close(fd);
	return n;
}

/* The program and its maps: pinned again if alive, loaded anew if not. */
static int repair_shared(const char *pin_dir, const struct edpg_ifaces *ifs,
			 const struct edpg_bpf *held, struct edpg_bpf *b, struct edpg_restored *r)
{
	struct edpg_load_opts lo = {};
	const char *from = NULL;
	char path[PATH_MAX];
	int fd, err;

	snprintf(path, sizeof(path), "%s/prog", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0 && errno != ENOENT)
		return edpg_err(-errno, "cannot open %s", path);
	if (fd < 0) {
		fd = prog_from_links(pin_dir, ifs, held, &from);
		if (fd == -EPERM || fd == -EACCES)
			return edpg_err(fd, "an XDP link is live but its program cannot be reached to pin it again (needs CAP_SYS_ADMIN)");
		if (fd >= 0) {
			if (bpf_obj_pin(fd, path)) {
				err = edpg_err(-errno, "cannot pin %s", path);
				close(fd);
				return err;
			}
			restored(r, "program pin prog (from the link of %s)", from);
		}
	}
	/* The daemon still holds the instance whose pins were removed:
	 * pinning it again keeps the gateways and the counters. */
	if (fd < 0 && held && held->prog_fd >= 0 && prog_is(held->prog_fd, PROG_NAME)) {
		fd = dup(held->prog_fd);
		if (fd >= 0 && bpf_obj_pin(fd, path)) {
			err = edpg_err(-errno, "cannot pin %s", path);
			close(fd);
			return err;
		}
		if (fd >= 0) {
			r->from_held = true;
			restored(r, "program pin prog (from the instance the daemon holds)");
		}
	}
	if (fd >= 0) {
		if (held && held->prog_fd >= 0 && obj_prog_id(fd) == obj_prog_id(held->prog_fd))
			err = repin_held(held, pin_dir, r);
		else
			err = repin_maps(fd, pin_dir, edpg_map_names, EDPG_M_MAX, r);
		close(fd);
		if (err == -EPERM || err == -EACCES)
			return edpg_err(err, "the maps of the running program cannot be reached to pin them again (needs CAP_SYS_ADMIN)");
		if (err)
			return err;
		return edpg_bpf_open_pinned(b, pin_dir);
	}
	/*
	 * The program is gone (no pin, no link holds it): whatever pins are
	 * left belong to a dead instance.  The snooper shares its gateway
	 * map, so it goes too and is loaded again with the new maps.
	 */
	lo.max_gateways = old_capacity(pin_dir);
	for (int i = 0; i < EDPG_M_MAX; i++)
		unpin(pin_dir, edpg_map_names[i]);
	unpin(pin_dir, EDPG_SNOOP_PIN_PROG);
	for (size_t i = 0; i < 2; i++)
		unpin(pin_dir, snoop_maps[i]);
	for (size_t i = 0; i < ifs->n; i++) {
		edpg_bpf_link_path(path, sizeof(path), pin_dir, ifs->v[i].name);
		unlink(path);
	}
	err = edpg_bpf_load_and_pin(b, pin_dir, &lo);
	if (err)
		return err;
	r->reloaded = true;
	restored(r, "program and maps loaded again (the old ones were gone; counters restart from zero)");
	return 0;
}

/* The snooper: its maps pinned again, or the whole of it loaded again
 * (by edpg_snoop_attach) when its program is gone.  Returns whether it
 * must be attached to every interface again. */
static int repair_snooper(const char *pin_dir, const struct edpg_held *held, bool reloaded,
			  struct edpg_restored *r, bool *reattach)
{
	char path[PATH_MAX];
	int fd, err;

	*reattach = false;
	/* The held snooper shares the held instance's maps: only while that
	 * one is still the live one. */
	for (int i = 0; held && !reloaded && i < EDPG_SNOOP_NPINS; i++) {
		if (held->snoop_fd[i] < 0 || pinned(pin_dir, edpg_snoop_pins[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, edpg_snoop_pins[i]);
		if (bpf_obj_pin(held->snoop_fd[i], path))
			return edpg_err(-errno, "cannot pin %s", path);
		restored(r, "snooper pin %s", edpg_snoop_pins[i]);
	}
	snprintf(path, sizeof(path), "%s/%s", pin_dir, EDPG_SNOOP_PIN_PROG);
	fd = bpf_obj_get(path);
	/* The question program shares no map a pin could be found from:
	 * without its pin (removed, or an older instance that had none) the
	 * snooper is loaded again, both sides. */
	if (fd >= 0 && !pinned(pin_dir, EDPG_SNOOP_PIN_PROG_Q)) {
		close(fd);
		unlink(path);
		restored(r, "DNS snooper loaded again (its question program was not pinned)");
		fd = -1;
		errno = ENOENT;
	}
	if (fd >= 0) {
		err = repin_maps(fd, pin_dir, snoop_maps, 2, r);
		close(fd);
		if (!err)
			return 0;
		/* Its maps out of reach: a new snooper costs only the
		 * answers in flight. */
		unlink(path);
	} else if (errno != ENOENT) {
		return edpg_err(-errno, "cannot open %s", path);
	}
	for (size_t i = 0; i < 2; i++)
		unpin(pin_dir, snoop_maps[i]);
	*reattach = true;
	return 0;
}

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
		restored(r, "XDP link on %s (%s)", rec->name, rec->xdp_mode);
	}
	if (snoop_reload || !ih->snooper || !ih->snooper_q) {
		err = edpg_snoop_attach(b, pin_dir, rec->name);
		if (err)
			return err;
		restored(r, "DNS snooper on %s", rec->name);
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
	memset(b, 0, sizeof(*b));
	b->prog_fd = -1;
	for (int i = 0; i < EDPG_M_MAX; i++)
		b->map_fd[i] = -1;
	err = repair_shared(pin_dir, ifs, held ? held->bpf : NULL, b, r);
	if (err)
		return err;
	err = repair_snooper(pin_dir, held, r->reloaded, r, &snoop_reload);
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
			restored(r, "DNS snooper on %s", ifs->v[i].name);
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
