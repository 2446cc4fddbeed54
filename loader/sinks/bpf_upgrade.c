// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpf_upgrade.c - the pinned maps' layout (BTF, member by member) and the
 * upgrade of the pinned program in place.
 */
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf_features.h"
#include "bpf_internal.h"
#include "bpfmaps.h"
#include "log.h"
#include "edpgate.skel.h"

#define UPGRADE_MAX_LINKS 64

static void link_pin_path(char *path, size_t len, const char *pin_dir, const char *name)
{
	if ((size_t)snprintf(path, len, "%s/%s", pin_dir, name) >= len)
		path[0] = '\0';	/* no such pin: bpf_obj_get() fails cleanly */
}

/* Skip typedefs and qualifiers. */
static const struct btf_type *btf_peel(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	while (t && (btf_is_typedef(t) || btf_is_mod(t)))
		t = btf__type_by_id(btf, t->type);
	return t;
}

/*
 * Compare the BTF of one key or value type of map @map in the pinned
 * instance (@ob, @oid) and this build (@nb, @nid): kind, size, and for a
 * struct each member's name, offset and size.  Equal sizes are not
 * enough: a field moved or retyped inside a struct of the same size
 * would make the new program read the old entries wrongly.
 */
static int btf_diff(const char *map, const char *what, const struct btf *ob, __u32 oid,
		    const struct btf *nb, __u32 nid)
{
	const struct btf_type *o = btf_peel(ob, oid), *n = btf_peel(nb, nid);
	const struct btf_member *om, *nm;
	int bad = 0;

	if (!o || !n)
		return 0;	/* no BTF to compare: the sizes were */
	if (btf_kind(o) != btf_kind(n) || btf__resolve_size(ob, oid) != btf__resolve_size(nb, nid)) {
		edpg_err(-EPROTO, "%s %s: type changed (%lld -> %lld bytes)", map, what,
			 (long long)btf__resolve_size(ob, oid), (long long)btf__resolve_size(nb, nid));
		return 1;
	}
	if (!btf_is_composite(o))
		return 0;
	om = btf_members(o);
	nm = btf_members(n);
	for (int i = 0; i < btf_vlen(o) || i < btf_vlen(n); i++) {
		const char *on = i < btf_vlen(o) ? btf__name_by_offset(ob, om[i].name_off) : "(none)";
		const char *nn = i < btf_vlen(n) ? btf__name_by_offset(nb, nm[i].name_off) : "(none)";
		__u32 oo = i < btf_vlen(o) ? btf_member_bit_offset(o, i) / 8 : 0;
		__u32 no = i < btf_vlen(n) ? btf_member_bit_offset(n, i) / 8 : 0;
		long long os = i < btf_vlen(o) ? btf__resolve_size(ob, om[i].type) : -1;
		long long ns = i < btf_vlen(n) ? btf__resolve_size(nb, nm[i].type) : -1;

		if (strcmp(on, nn) || oo != no || os != ns) {
			edpg_err(-EPROTO, "%s %s: member %d is '%s' at byte %u (%lld bytes) in the pinned program, '%s' at byte %u (%lld bytes) in this build",
				 map, what, i, on, oo, os, nn, no, ns);
			bad++;
		}
	}
	return bad;
}

/*
 * Does every pinned map of @b have the layout this build's object @s
 * expects?  Type, key and value size and flags always; with @deep also
 * the BTF of keys and values, member by member (needs the kernel's BTF of
 * the pinned program: CAP_SYS_ADMIN).  max_entries may differ: it is the
 * site's sizing, kept across an upgrade; so may BPF_F_NO_PREALLOC: how
 * the kernel allocates a hash's elements, not what they hold (older builds
 * preallocated the gateway and destination hashes).  Prints each
 * difference; -EPROTO when there is any.
 */
int edpg_layout_check(struct edpgate *s, const struct edpg_bpf *b, bool deep)
{
	const struct btf *nbtf = bpf_object__btf(s->obj);
	struct btf *obtf = NULL;
	int bad = 0;

	for (int i = 0; i < EDPG_M_MAX; i++) {
		struct bpf_map *m = edpg_skel_map(s, i);
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		const char *name = edpg_map_names[i];

		if (bpf_obj_get_info_by_fd(b->map_fd[i], &info, &len))
			return edpg_err(-errno, "cannot read the pinned map %s", name);
		if (info.type != bpf_map__type(m) || info.key_size != bpf_map__key_size(m) ||
		    info.value_size != bpf_map__value_size(m) ||
		    (info.map_flags ^ bpf_map__map_flags(m)) & ~BPF_F_NO_PREALLOC) {
			edpg_err(-EPROTO, "%s: pinned as type %u, key %u, value %u bytes, flags %#x; this build has type %u, key %u, value %u bytes, flags %#x",
				 name, info.type, info.key_size, info.value_size, info.map_flags,
				 bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m),
				 bpf_map__map_flags(m));
			bad++;
			continue;
		}
		if (!deep || !info.btf_id || !nbtf)
			continue;
		if (!obtf) {
			obtf = btf__load_from_kernel_by_id(info.btf_id);
			if (!obtf)
				return edpg_err(-errno, "cannot read the BTF of the pinned program");
		}
		bad += btf_diff(name, "key", obtf, info.btf_key_type_id, nbtf,
				bpf_map__btf_key_type_id(m));
		bad += btf_diff(name, "value", obtf, info.btf_value_type_id, nbtf,
				bpf_map__btf_value_type_id(m));
	}
	btf__free(obtf);
	return bad ? -EPROTO : 0;
}

int edpg_bpf_prog_ident(int fd, uint32_t *id, char tag[17])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (id)
		*id = info.id;
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		sprintf(tag + 2 * i, "%02x", info.tag[i]);
	return 0;
}

/* Swing one pinned link from whatever program it runs now to @new_fd,
 * atomically and only if that is still the program it ran when read
 * (BPF_F_REPLACE).  Returns the fd of the program it ran, for a rollback. */
static int link_swing(const char *path, int new_fd, int *was_fd)
{
	LIBBPF_OPTS(bpf_link_update_opts, uo, .flags = BPF_F_REPLACE);
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int lfd, err = 0;

	*was_fd = -1;
	lfd = bpf_obj_get(path);
	if (lfd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(lfd, &info, &len)) {
		err = -errno;
		goto out;
	}
	if (info.type != BPF_LINK_TYPE_XDP || !info.xdp.ifindex) {
		err = -ENOLINK;	/* defunct: attach restores it */
		goto out;
	}
	*was_fd = bpf_prog_get_fd_by_id(info.prog_id);
	if (*was_fd < 0) {
		err = -errno;
		goto out;
	}
	uo.old_prog_fd = *was_fd;
	if (bpf_link_update(lfd, new_fd, &uo))
		err = -errno;
out:
	close(lfd);
	return err;
}

typedef char link_name_t[NAME_MAX + 1];

/* The link pins under @pin_dir (link_IFNAME), at most UPGRADE_MAX_LINKS. */
static int list_links(const char *pin_dir, link_name_t *links, size_t *nl)
{
	struct dirent *de;
	DIR *d;

	*nl = 0;
	d = opendir(pin_dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && *nl < UPGRADE_MAX_LINKS)
		if (!strncmp(de->d_name, "link_", 5))
			snprintf(links[(*nl)++], sizeof(links[0]), "%s", de->d_name);
	closedir(d);
	return 0;
}

/* Whether a live link runs a program other than @prog_id (an upgrade cut
 * short). */
static bool stray_links(const char *pin_dir, const link_name_t *links, size_t nl, uint32_t prog_id)
{
	char path[PATH_MAX];
	bool stray = false;

	for (size_t i = 0; i < nl; i++) {
		struct bpf_link_info li = {};
		__u32 len = sizeof(li);
		int lfd;

		link_pin_path(path, sizeof(path), pin_dir, links[i]);
		lfd = bpf_obj_get(path);
		if (lfd >= 0 && !bpf_obj_get_info_by_fd(lfd, &li, &len) && li.xdp.ifindex &&
		    li.prog_id != prog_id)
			stray = true;
		if (lfd >= 0)
			close(lfd);
	}
	return stray;
}

/*
 * Every link onto @new_fd, then @new_fd pinned as `prog`.  On an error
 * every switched link is put back on the program it ran.
 */
static int swing_links(const char *pin_dir, const link_name_t *links, size_t nl, int new_fd,
		       struct edpg_upgrade *u)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int was[UPGRADE_MAX_LINKS];
	size_t swung;
	int err = 0;

	for (swung = 0; swung < nl; swung++) {
		link_pin_path(path, sizeof(path), pin_dir, links[swung]);
		err = link_swing(path, new_fd, &was[swung]);
		if (err == -ENOLINK) {
			edpg_warn("%s is defunct (its interface is gone or it was detached); `edpgate attach IFACE` restores it",
				  path);
			err = 0;
			continue;
		}
		if (err) {
			edpg_err(err, "cannot switch %s to the new program", path);
			break;
		}
		u->nlinks++;
	}
	/* The new program pinned under a temporary name, then renamed over
	 * the old pin: a crash leaves one whole `prog` pin, never none. */
	if (!err) {
		snprintf(path, sizeof(path), "%s/prog", pin_dir);
		/* bpffs refuses names with a dot. */
		snprintf(tmp, sizeof(tmp), "%s/prog_new", pin_dir);
		unlink(tmp);
		if (bpf_obj_pin(new_fd, tmp) || rename(tmp, path)) {
			err = edpg_err(-errno, "cannot pin the new program as %s", path);
			unlink(tmp);
		}
	}
	if (err) {
		/* Put every switched link back on the program it ran. */
		for (size_t i = 0; i < swung; i++) {
			int dummy;

			if (was[i] < 0)
				continue;
			link_pin_path(path, sizeof(path), pin_dir, links[i]);
			if (link_swing(path, was[i], &dummy))
				edpg_warn("could not put %s back on the old program", path);
			if (dummy >= 0)
				close(dummy);
		}
	}
	for (size_t i = 0; i < swung && i < nl; i++)
		if (was[i] >= 0)
			close(was[i]);
	return err;
}

int edpg_bpf_swing_all(const char *pin_dir, int new_fd, struct edpg_upgrade *u)
{
	link_name_t links[UPGRADE_MAX_LINKS];
	size_t nl = 0;
	int err;

	err = list_links(pin_dir, links, &nl);
	return err ?: swing_links(pin_dir, links, nl, new_fd, u);
}

int edpg_bpf_links_back(const char *pin_dir, int prog_fd)
{
	link_name_t links[UPGRADE_MAX_LINKS];
	struct bpf_prog_info pi = {};
	__u32 plen = sizeof(pi);
	char path[PATH_MAX];
	size_t nl = 0;
	int err, n = 0;

	err = list_links(pin_dir, links, &nl);
	if (!err && bpf_obj_get_info_by_fd(prog_fd, &pi, &plen))
		err = -errno;
	for (size_t i = 0; !err && i < nl; i++) {
		struct bpf_link_info li = {};
		__u32 len = sizeof(li);
		int lfd;

		link_pin_path(path, sizeof(path), pin_dir, links[i]);
		lfd = bpf_obj_get(path);
		if (lfd < 0)
			continue;
		/* No BPF_F_REPLACE: its old program could only be had by
		 * id (CAP_SYS_ADMIN), and the state lock is held. */
		if (!bpf_obj_get_info_by_fd(lfd, &li, &len) && li.xdp.ifindex &&
		    li.prog_id != pi.id) {
			if (bpf_link_update(lfd, prog_fd, NULL))
				err = -errno;
			else
				n++;
		}
		close(lfd);
	}
	return err ?: n;
}

int edpg_bpf_upgrade(const char *pin_dir, struct edpg_upgrade *u)
{
	struct edpg_bpf old;
	struct edpgate *s = NULL;
	link_name_t links[UPGRADE_MAX_LINKS];
	size_t nl = 0;
	int err, new_fd;

	memset(u, 0, sizeof(*u));
	err = edpg_bpf_open_raw(&old, pin_dir);
	if (err)
		return err;
	err = edpg_bpf_prog_ident(old.prog_fd, &u->old_id, u->old_tag);
	if (err)
		goto out;
	err = edpg_kfeat_require();
	if (err)
		goto out;
	s = edpgate__open();
	if (!s) {
		err = edpg_err(-errno, "cannot open the BPF object");
		goto out;
	}
	s->rodata->coarse_clock = edpg_kfeat_coarse_clock();
	err = edpg_layout_check(s, &old, true);
	if (err) {
		edpg_err(err, "this build changed the layout of the pinned maps, so it cannot take over their entries; nothing was changed. Keep the running build, or start afresh with `edpgate detach --all` and `edpgate attach IFACE` (gateways and addresses come back from the state directory; counters restart from zero)");
		goto out;
	}
	/* Every map: gateways, addresses, counters, events, pending MACs
	 * stay as they are; only the code changes. */
	for (int i = 0; i < EDPG_M_MAX && !err; i++)
		err = bpf_map__reuse_fd(edpg_skel_map(s, i), old.map_fd[i]);
	if (err) {
		edpg_err(err, "cannot reuse the pinned maps");
		goto out;
	}
	err = edpgate__load(s);
	if (err) {
		edpg_err(err, "the kernel refused this build's XDP program (run with -v for the verifier log); nothing was changed");
		goto out;
	}
	new_fd = bpf_program__fd(s->progs.edpgate_xdp);
	err = edpg_bpf_prog_ident(new_fd, &u->new_id, u->new_tag);
	err = err ?: list_links(pin_dir, links, &nl);
	if (err)
		goto out;
	/* Same code: nothing to swap unless a link still runs a program
	 * other than the pinned one (an upgrade cut short). */
	u->same = !strcmp(u->old_tag, u->new_tag);
	if (u->same && !stray_links(pin_dir, links, nl, u->old_id)) {
		u->new_id = u->old_id;
		goto out;
	}
	u->same = false;
	err = swing_links(pin_dir, links, nl, new_fd, u);
out:
	if (s)
		edpgate__destroy(s);
	edpg_bpf_close(&old);
	return err;
}
