// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * snoop.c - load, attach and read the DNS-answer snooper (bpf/snoop.bpf.c).
 *
 * The TC filter holds a reference to the program, so the attachment
 * outlives this process like the XDP link does; the program, ring buffer
 * and lost counter are pinned so the daemon (another process) can open the
 * ring and detach can find the instance.  The filter is identified by a
 * fixed handle and priority on the clsact egress hook.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "snoop.h"
#include "snoop.skel.h"

static void pin_path(char *buf, size_t len, const char *pin_dir, const char *name)
{
	snprintf(buf, len, "%s/%s", pin_dir, name);
}

/*
 * The pinned answer (or, with @query, question) program, loading and
 * pinning both first if needed.  -ENOENT for the question program of an
 * instance pinned by an older edpgate, which had none.
 */
static int snoop_prog_fd(const struct edpg_bpf *b, const char *pin_dir, bool query)
{
	char path[PATH_MAX];
	struct snoop *s;
	int fd, err;

	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_PROG);
	fd = bpf_obj_get(path);
	if (fd >= 0 && query) {
		close(fd);
		pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_PROG_Q);
		fd = bpf_obj_get(path);
		return fd >= 0 ? fd : -errno;
	}
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return edpg_err(-errno, "cannot open %s", path);

	s = snoop__open();
	if (!s)
		return edpg_err(-errno, "cannot open the snooper BPF object");
	/* The gateway table is the XDP program's: enrolment is seen at once. */
	err = bpf_map__reuse_fd(s->maps.edpg_ctl, b->map_fd[EDPG_M_CTL]);
	err = err ?: bpf_map__reuse_fd(s->maps.edpg_gateways, b->map_fd[EDPG_M_GATEWAYS]);
	if (err) {
		err = edpg_err(err, "cannot share the gateway map with the snooper");
		goto out;
	}
	err = snoop__load(s);
	if (err) {
		err = edpg_err(err, "the kernel refused the DNS snooper (run with -v for the verifier log)");
		goto out;
	}
	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_RB);
	if (bpf_map__pin(s->maps.edpg_snoop_rb, path)) {
		err = edpg_err(-errno, "cannot pin %s", path);
		goto out;
	}
	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_LOST);
	if (bpf_map__pin(s->maps.edpg_snoop_lost, path)) {
		err = edpg_err(-errno, "cannot pin %s", path);
		goto out;
	}
	/* A question program left by a dead instance (its answer program
	 * pin, the marker, is gone) is replaced with this one's. */
	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_PROG_Q);
	unlink(path);
	if (bpf_program__pin(s->progs.edpgate_snoop_q, path)) {
		err = edpg_err(-errno, "cannot pin %s", path);
		goto out;
	}
	/* The program pin goes last: its presence means "fully pinned". */
	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_PROG);
	if (bpf_program__pin(s->progs.edpgate_snoop, path)) {
		err = edpg_err(-errno, "cannot pin %s", path);
		goto out;
	}
	err = dup(bpf_program__fd(query ? s->progs.edpgate_snoop_q : s->progs.edpgate_snoop));
	if (err < 0)
		err = -errno;
out:
	if (err < 0) {
		pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_RB);
		unlink(path);
		pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_LOST);
		unlink(path);
		pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_PROG_Q);
		unlink(path);
	}
	snoop__destroy(s);
	return err;
}

static int tc_hook_at(const char *ifname, struct bpf_tc_hook *h, enum bpf_tc_attach_point at)
{
	int ifindex = if_nametoindex(ifname);

	if (!ifindex)
		return -ENODEV;
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = at;
	return 0;
}

/* One of the two programs on @ifname's hook @at (clsact made if needed). */
static int attach_one(const struct edpg_bpf *b, const char *pin_dir, const char *ifname,
		      enum bpf_tc_attach_point at)
{
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = EDPG_SNOOP_TC_HANDLE,
		    .priority = EDPG_SNOOP_TC_PRIO, .flags = BPF_TC_F_REPLACE);
	bool query = at == BPF_TC_INGRESS;
	struct bpf_tc_hook h;
	int fd, err;

	err = tc_hook_at(ifname, &h, at);
	if (err)
		return edpg_err(err, "no interface named %s", ifname);
	fd = snoop_prog_fd(b, pin_dir, query);
	if (fd < 0)
		return fd;
	/* clsact may exist already (another tool's filters): share it. */
	err = bpf_tc_hook_create(&h);
	if (err && err != -EEXIST) {
		err = edpg_err(err, "cannot add a clsact qdisc to %s", ifname);
		goto out;
	}
	o.prog_fd = fd;
	err = bpf_tc_attach(&h, &o);
	if (err)
		err = edpg_err(err, "cannot attach the DNS snooper to %s %s", ifname,
			       query ? "ingress" : "egress");
out:
	close(fd);
	return err;
}

int edpg_snoop_attach(const struct edpg_bpf *b, const char *pin_dir, const char *ifname)
{
	int err;

	err = attach_one(b, pin_dir, ifname, BPF_TC_EGRESS);
	if (err)
		return err;
	err = attach_one(b, pin_dir, ifname, BPF_TC_INGRESS);
	if (err == -ENOENT) {
		/* Pinned by an older edpgate: answers are snooped as they
		 * were, unmatched, until `detach` and `attach` again. */
		edpg_warn("the DNS snooper pinned in %s sees no questions; `edpgate detach --all` and `attach` again",
			  pin_dir);
		err = 0;
	}
	return err;
}

static int detach_one(const char *ifname, enum bpf_tc_attach_point at)
{
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = EDPG_SNOOP_TC_HANDLE,
		    .priority = EDPG_SNOOP_TC_PRIO);
	struct bpf_tc_hook h;
	int err;

	err = tc_hook_at(ifname, &h, at);
	if (err)
		return err;
	err = bpf_tc_detach(&h, &o);
	/* No clsact at all reads as EINVAL from the kernel: nothing of ours. */
	if (err == -EINVAL)
		err = -ENOENT;
	return err;
}

int edpg_snoop_detach(const char *ifname)
{
	int err = detach_one(ifname, BPF_TC_EGRESS), err_q = detach_one(ifname, BPF_TC_INGRESS);

	/* The answer side decides "was attached"; a question side that
	 * would not go is an error all the same. */
	if (!err && err_q && err_q != -ENOENT)
		err = err_q;
	return err;
}

bool edpg_snoop_questions(const char *pin_dir)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_PROG_Q);
	return !access(path, F_OK);
}

bool edpg_snoop_is_attached(const char *ifname, bool questions)
{
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = EDPG_SNOOP_TC_HANDLE,
		    .priority = EDPG_SNOOP_TC_PRIO);
	struct bpf_tc_hook h;

	if (tc_hook_at(ifname, &h, questions ? BPF_TC_INGRESS : BPF_TC_EGRESS))
		return false;
	return bpf_tc_query(&h, &o) == 0;
}

/* Quietly: without a clsact qdisc the kernel's answer is an error libbpf
 * would print, once a second in the daemon. */
bool edpg_snoop_is_attached_quiet(const char *ifname, bool questions)
{
	libbpf_print_fn_t old = libbpf_set_print(NULL);
	bool on = edpg_snoop_is_attached(ifname, questions);

	libbpf_set_print(old);
	return on;
}

int edpg_snoop_lost(const char *pin_dir, uint64_t *lost)
{
	char path[PATH_MAX];
	int ncpus = libbpf_num_possible_cpus(), fd, err = 0;
	uint64_t *v;
	uint32_t zero = 0;

	*lost = 0;
	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_LOST);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	v = calloc(ncpus, sizeof(*v));
	if (!v) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_elem(fd, &zero, v)) {
		err = -errno;
		goto out;
	}
	for (int i = 0; i < ncpus; i++)
		*lost += v[i];
out:
	free(v);
	close(fd);
	return err;
}

struct edpg_snoop {
	struct ring_buffer *rb;
	int map_fd;
	edpg_snoop_fn fn;
	void *ctx;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct edpg_snoop *s = ctx;

	if (size < sizeof(struct edpg_snoop_event))
		return 0;	/* not one of ours: skip it */
	return s->fn(s->ctx, data);
}

int edpg_snoop_open(struct edpg_snoop **out, const char *pin_dir, edpg_snoop_fn fn, void *ctx)
{
	struct edpg_snoop *s;
	char path[PATH_MAX];
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fn = fn;
	s->ctx = ctx;
	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_RB);
	s->map_fd = bpf_obj_get(path);
	if (s->map_fd < 0) {
		err = -errno;
		free(s);
		return err;
	}
	s->rb = ring_buffer__new(s->map_fd, on_record, s, NULL);
	if (!s->rb) {
		err = -errno;
		close(s->map_fd);
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

int edpg_snoop_fd(const struct edpg_snoop *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

int edpg_snoop_consume(struct edpg_snoop *s)
{
	return ring_buffer__consume(s->rb);
}

void edpg_snoop_close(struct edpg_snoop *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	close(s->map_fd);
	free(s);
}

/* Pin @fd under a temporary name, then rename it over @name: a crash
 * leaves the old pin or the new one, never none. */
static int repin(int fd, const char *pin_dir, const char *name)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	pin_path(path, sizeof(path), pin_dir, name);
	if (snprintf(tmp, sizeof(tmp), "%s/%s_new", pin_dir, name) >= (int)sizeof(tmp))
		return edpg_err(-ENAMETOOLONG, "pin directory name too long: %s", pin_dir);
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) || rename(tmp, path)) {
		int err = edpg_err(-errno, "cannot pin the new snooper as %s", path);

		unlink(tmp);
		return err;
	}
	return 0;
}

/* Put one hook's filter on @fd; cls_bpf swaps the program of an existing
 * handle in one RCU step, so no DNS answer passes unseen. */
static int tc_swap(const char *ifname, enum bpf_tc_attach_point at, int fd)
{
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = EDPG_SNOOP_TC_HANDLE,
		    .priority = EDPG_SNOOP_TC_PRIO, .flags = BPF_TC_F_REPLACE, .prog_fd = fd);
	struct bpf_tc_hook h;
	int err;

	err = tc_hook_at(ifname, &h, at);
	return err ?: bpf_tc_attach(&h, &o);
}

/*
 * edpgate upgrade, second half: this build's snooper in place of the
 * pinned one on every interface that has it, over the same ring buffer,
 * lost counter and gateway table (with @force even when the code is the
 * same: the gateway table @b holds is a new one).  Nothing pinned: nothing to do.  A
 * build whose snooper maps differ is refused by the load, before any
 * filter changes; a filter that cannot be swapped puts the ones already
 * swapped back.
 */
int edpg_snoop_upgrade(const struct edpg_bpf *b, const char *pin_dir,
		       const struct edpg_ifaces *ifs, bool force, struct edpg_snoop_upgrade *u)
{
	char path[PATH_MAX], otag_q[2 * BPF_TAG_SIZE + 1] = "", ntag_q[2 * BPF_TAG_SIZE + 1];
	int old = -1, old_q = -1, rb = -1, lost = -1, nfd, nfd_q;
	bool swapped[EDPG_MAX_IFACES] = {};
	struct snoop *s = NULL;
	int err;

	memset(u, 0, sizeof(*u));
	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_PROG);
	old = bpf_obj_get(path);
	if (old < 0)
		return errno == ENOENT ? 0 : edpg_err(-errno, "cannot open %s", path);
	u->pinned = true;
	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_PROG_Q);
	old_q = bpf_obj_get(path);	/* absent if pinned by an older edpgate */
	err = edpg_bpf_prog_ident(old, NULL, u->old_tag);
	if (!err && old_q >= 0)
		err = edpg_bpf_prog_ident(old_q, NULL, otag_q);
	if (err)
		goto out;
	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_RB);
	rb = bpf_obj_get(path);
	pin_path(path, sizeof(path), pin_dir, EDPG_SNOOP_PIN_LOST);
	lost = bpf_obj_get(path);
	if (rb < 0 || lost < 0) {
		err = edpg_err(-ENOENT, "the DNS snooper in %s lacks its ring buffer or lost counter; `edpgate attach IFACE` restores it",
			       pin_dir);
		goto out;
	}
	s = snoop__open();
	if (!s) {
		err = edpg_err(-errno, "cannot open the snooper BPF object");
		goto out;
	}
	err = bpf_map__reuse_fd(s->maps.edpg_ctl, b->map_fd[EDPG_M_CTL]);
	err = err ?: bpf_map__reuse_fd(s->maps.edpg_gateways, b->map_fd[EDPG_M_GATEWAYS]);
	err = err ?: bpf_map__reuse_fd(s->maps.edpg_snoop_rb, rb);
	err = err ?: bpf_map__reuse_fd(s->maps.edpg_snoop_lost, lost);
	err = err ?: snoop__load(s);
	if (err) {
		edpg_err(err, "this build's DNS snooper cannot take over the pinned one's maps (another layout?); the XDP program was upgraded, the snooper left as it was: `edpgate detach --all` and `attach` again to replace it");
		goto out;
	}
	nfd = bpf_program__fd(s->progs.edpgate_snoop);
	nfd_q = bpf_program__fd(s->progs.edpgate_snoop_q);
	err = edpg_bpf_prog_ident(nfd, NULL, u->new_tag);
	err = err ?: edpg_bpf_prog_ident(nfd_q, NULL, ntag_q);
	if (err)
		goto out;
	if (!force && !strcmp(u->old_tag, u->new_tag) && (old_q < 0 || !strcmp(otag_q, ntag_q)))
		goto out;	/* same code */
	u->upgraded = true;
	for (size_t i = 0; i < ifs->n && !err; i++) {
		const char *ifn = ifs->v[i].name;

		if (!edpg_snoop_is_attached(ifn, false))
			continue;
		err = tc_swap(ifn, BPF_TC_EGRESS, nfd);
		if (!err && old_q >= 0)
			err = tc_swap(ifn, BPF_TC_INGRESS, nfd_q);
		if (err) {
			edpg_err(err, "cannot switch the DNS snooper on %s to the new program", ifn);
			/* This one may be half-switched: put it back too. */
			swapped[i] = true;
			break;
		}
		swapped[i] = true;
		u->nifaces++;
	}
	if (!err && old_q >= 0)
		err = repin(nfd_q, pin_dir, EDPG_SNOOP_PIN_PROG_Q);
	/* The answer program's pin last: its presence means "fully pinned". */
	if (!err)
		err = repin(nfd, pin_dir, EDPG_SNOOP_PIN_PROG);
	if (err) {
		for (size_t i = 0; i < ifs->n; i++) {
			if (!swapped[i])
				continue;
			if (tc_swap(ifs->v[i].name, BPF_TC_EGRESS, old) ||
			    (old_q >= 0 && tc_swap(ifs->v[i].name, BPF_TC_INGRESS, old_q)))
				edpg_warn("could not put the DNS snooper on %s back on the old program",
					  ifs->v[i].name);
		}
		u->upgraded = false;
		u->nifaces = 0;
	}
out:
	snoop__destroy(s);
	if (lost >= 0)
		close(lost);
	if (rb >= 0)
		close(rb);
	if (old_q >= 0)
		close(old_q);
	close(old);
	return err;
}
