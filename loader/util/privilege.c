// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * privilege.c - capability checks and the daemon's capability drop
 * (capget/capset/prctl directly: no libcap), and validation of the names
 * and paths the command line hands to the kernel.
 *
 * Nothing here, or anywhere in edpgate, runs a shell or another program:
 * user strings reach the kernel only as netlink attributes, bpffs paths
 * and interface names, which is why those are checked before use.
 */
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>

#include "log.h"
#include "privilege.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static const struct {
	int cap;
	const char *name;
} cap_names[] = {
	{ CAP_BPF, "CAP_BPF" },
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
	{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN" },
	{ CAP_PERFMON, "CAP_PERFMON" },
	{ CAP_NET_RAW, "CAP_NET_RAW" },
	{ CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE" },
	{ CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE" },
};

int edpg_caps_get(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (eff)
		*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	if (prm)
		*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	return 0;
}

/* Named ones in the table's order (CAP_BPF first), then any other. */
const char *edpg_caps_names(uint64_t caps, char *buf, size_t len)
{
	const char *names[64];
	char other[64][12];
	size_t n = 0, off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (caps & EDPG_CAP(cap_names[i].cap)) {
			names[n++] = cap_names[i].name;
			caps &= ~EDPG_CAP(cap_names[i].cap);
		}
	for (int c = 0; c < 64; c++)
		if (caps & EDPG_CAP(c)) {
			snprintf(other[n], sizeof(other[n]), "cap_%d", c);
			names[n] = other[n];
			n++;
		}
	for (size_t i = 0; i < n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s",
				!i ? "" : i + 1 == n ? " and " : ", ", names[i]);
	return buf;
}

int edpg_caps_require(const char *what, uint64_t needs)
{
	char want[128], lack[128];
	uint64_t eff, missing;
	int err = edpg_caps_get(&eff, NULL);

	if (err)
		return edpg_err(err, "cannot read this process's capabilities");
	/* Before 5.8 CAP_SYS_ADMIN was what bpf() asked for; it still
	 * implies CAP_BPF. */
	if (eff & EDPG_CAP(CAP_SYS_ADMIN))
		eff |= EDPG_CAP(CAP_BPF);
	missing = needs & ~eff;
	if (!missing)
		return 0;
	edpg_caps_names(needs, want, sizeof(want));
	edpg_caps_names(missing, lack, sizeof(lack));
	edpg_err(0, "edpgate %s needs %s (run as root); this process lacks %s", what, want, lack);
	return -EPERM;
}

int edpg_caps_limit(uint64_t keep)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
	int last = CAP_LAST_CAP;
	uint64_t prm;
	FILE *f;
	int err;

	/* One cannot raise what one lacks (a unit's CapabilityBoundingSet
	 * may have narrowed it already): keep what is both wanted and held. */
	err = edpg_caps_get(NULL, &prm);
	if (err)
		return err;
	keep &= prm;

	/* The running kernel may know more capabilities than our headers. */
	f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1 || last < 0 || last > 63)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	/*
	 * Bounding set first: dropping from it needs CAP_SETPCAP, which the
	 * capset below takes away.  A process started with a narrower
	 * bounding set (setpriv, a unit's CapabilityBoundingSet) may lack
	 * CAP_SETPCAP: what it cannot drop it could only regain by exec,
	 * which no_new_privs and edpgate (which never execs) rule out.
	 */
	for (int c = 0; c <= last; c++) {
		if ((keep & EDPG_CAP(c)) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL && errno != EPERM)
			return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

int edpg_valid_ifname(const char *name, const char **why)
{
	size_t n = strlen(name);

	if (!n) {
		*why = "it is empty";
		return -EINVAL;
	}
	if (n >= IFNAMSIZ) {
		*why = "it is longer than 15 characters";
		return -EINVAL;
	}
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		*why = "'.' and '..' are not interface names";
		return -EINVAL;
	}
	/* What the kernel's dev_valid_name() refuses, so the message is
	 * ours and not a netlink EINVAL; '/' also keeps the name usable in
	 * the pin path link_IFNAME. */
	for (const char *s = name; *s; s++) {
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) ||
		    iscntrl((unsigned char)*s)) {
			*why = "it contains '/', ':', whitespace or a control character";
			return -EINVAL;
		}
	}
	return 0;
}

int edpg_valid_abs_path(const char *path, const char **why)
{
	if (!*path) {
		*why = "it is empty";
		return -EINVAL;
	}
	if (path[0] != '/') {
		*why = "it must be an absolute path";
		return -EINVAL;
	}
	if (strlen(path) >= 4000) {
		*why = "it is too long";
		return -EINVAL;
	}
	for (const char *s = path; *s; s++) {
		if (iscntrl((unsigned char)*s)) {
			*why = "it contains a control character";
			return -EINVAL;
		}
	}
	/* A '..' component would put edpgate's files wherever it points. */
	for (const char *s = path; (s = strstr(s, "/..")); s += 3) {
		if (s[3] == '/' || s[3] == '\0') {
			*why = "it contains a '..' component";
			return -EINVAL;
		}
	}
	return 0;
}

int edpg_check_ifname(const char *name, bool must_exist)
{
	const char *why;

	if (edpg_valid_ifname(name, &why))
		return edpg_err(0, "'%s' is not a valid interface name: %s", name, why), -EINVAL;
	if (must_exist && !if_nametoindex(name))
		return edpg_err(0, "no interface named '%s' (see `ip link`)", name), -ENODEV;
	return 0;
}

int edpg_check_path_opt(const char *opt, const char *path, bool absolute)
{
	const char *why;

	if (absolute) {
		if (edpg_valid_abs_path(path, &why))
			return edpg_err(0, "%s '%s': %s", opt, path, why), -EINVAL;
		return 0;
	}
	if (!*path)
		return edpg_err(0, "%s: the path is empty", opt), -EINVAL;
	for (const char *s = path; *s; s++)
		if (iscntrl((unsigned char)*s))
			return edpg_err(0, "%s: the path contains a control character", opt), -EINVAL;
	return 0;
}

int edpg_check_pin_dir(const char *path)
{
	struct statfs st;
	int err = edpg_check_path_opt("--pin-dir", path, true);

	if (err)
		return err;
	if (!statfs(path, &st)) {
		if ((unsigned long)st.f_type != BPF_FS_MAGIC)
			return edpg_err(0, "--pin-dir '%s' is not on a bpffs; pins live on one (mount -t bpf bpf DIR)",
					path), -EINVAL;
		return 0;
	}
	/*
	 * Not there yet: attach creates it and checks its parent then
	 * (mounting a bpffs on /sys/fs/bpf if need be).  Commands that work
	 * without pins (gateway add before attach, an offline replay) must
	 * not be refused here.
	 */
	return 0;
}
