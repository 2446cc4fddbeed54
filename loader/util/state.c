// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "prefault.h"
#include "state.h"

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, err = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	/* The rename is only durable once the directory entry is. */
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int edpg_write_atomic(const char *path, const void *buf, size_t len)
{
	char tmp[PATH_MAX];
	const char *p = buf;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/*
	 * 0600: the gateways file and the address cache say which devices
	 * may talk to what; only root reads them.  The rename replaces a
	 * file an older version wrote 0644, so the mode tightens on the
	 * next write.  fchmod because a umask can only narrow the mode, and
	 * a stale temp file of a reused PID may exist with another one.
	 */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, EDPG_FILE_MODE);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, EDPG_FILE_MODE)) {
		err = -errno;
		goto out;
	}
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		p += n;
		len -= n;
	}
	if (fsync(fd)) {
		err = -errno;
		goto out;
	}
	if (close(fd)) {
		fd = -1;
		err = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path)) {
		err = -errno;
		goto out;
	}
	/*
	 * After the rename the new content is what every reader sees, so
	 * the write has happened: failing now would make a caller that
	 * changes the live filter only after a successful write (gateway
	 * add) leave the file and the filter disagreeing.  A directory that
	 * cannot be synced only puts the rename's durability across a power
	 * cut in doubt; say so and carry on.
	 */
	err = fsync_dir_of(path);
	if (err) {
		edpg_warn("%s is written but its directory could not be synced (%s); it may revert after a power cut",
			  path, strerror(-err));
		err = 0;
	}
out:
	if (fd >= 0)
		close(fd);
	if (err)
		unlink(tmp);
	return err;
}

int edpg_read_file(const char *path, char **buf, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *b = NULL, *t;
	struct stat st;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/*
	 * A regular file is read into a buffer of its size (plus the NUL and
	 * one byte to see the end): growing by doubling copied a site's
	 * 400 kB gateways file several times over on every command.  Files
	 * that do not know their size (/proc, pipes) still grow as needed.
	 */
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (unsigned long long)st.st_size < SIZE_MAX / 2)
		cap = (size_t)st.st_size + 2;
	b = malloc(cap);
	if (!b) {
		err = -ENOMEM;
		goto out;
	}
	edpg_prefault(b, cap);	/* a site's gateways file is a hundred pages */
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			cap *= 2;
			t = realloc(b, cap);
			if (!t) {
				err = -ENOMEM;
				goto out;
			}
			b = t;
		}
		r = read(fd, b + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += r;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return err;
}

int edpg_mkdir_p(const char *dir, int mode)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

const char *edpg_write_hint(int err)
{
	switch (err < 0 ? -err : err) {
	case ENOSPC:
	case EDQUOT:
		return "its file system is full: free space there, then run the command again";
	case EROFS:
		return "its file system is read-only: remount it read-write (or pass a writable --state-dir), then run the command again";
	case EACCES:
	case EPERM:
		return "permission denied: run as root, or fix the directory's owner and mode";
	default:
		return "fix the cause, then run the command again";
	}
}

/*
 * A process killed inside edpg_write_atomic() leaves its "FILE.tmp.PID"
 * behind.  No reader opens those names, so they break nothing, but they
 * would pile up over many crashes and hold space on a small /var.  Under
 * the lock no other command is writing; the daemon's cache writer works
 * without the lock, which is why only files of dead PIDs go.
 */
static void sweep_temp_files(const char *state_dir)
{
	struct dirent *e;
	DIR *d = opendir(state_dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *t = strstr(e->d_name, ".tmp."), *s;
		char *end;
		long pid;

		if (!t)
			continue;
		s = t + 5;
		if (!isdigit((unsigned char)*s))
			continue;
		pid = strtol(s, &end, 10);
		if (*end || pid <= 0 || pid == getpid() || !(kill(pid, 0) && errno == ESRCH))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			edpg_debug("removed %s/%s, left by a killed edpgate", state_dir, e->d_name);
	}
	closedir(d);
}

/*
 * The state directory is edpgate's own (like a systemd StateDirectory=):
 * a directory an older version created 0755 is narrowed to 0700 by the
 * next command that may write there.  Only a directory we own, and only
 * group/other bits are taken away.
 */
static void tighten_dir(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    !(st.st_mode & 077))
		return;
	if (chmod(dir, st.st_mode & 0700))
		edpg_debug("cannot narrow %s to 0700: %s", dir, strerror(errno));
}

int edpg_lock(const char *state_dir)
{
	char path[PATH_MAX];
	int fd, err;

	err = edpg_mkdir_p(state_dir, EDPG_DIR_MODE);
	if (err) {
		edpg_err(0, "cannot create the state directory %s: %s; %s", state_dir,
			 strerror(-err), edpg_write_hint(err));
		return err;
	}
	edpg_state_path(path, sizeof(path), state_dir, EDPG_STATE_LOCK);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	/* flock() needs no write access: on a read-only state directory the
	 * read-only commands still work, and a writing one fails at its
	 * write, saying which file and why, with nothing changed. */
	if (fd < 0 && (errno == EROFS || errno == EACCES))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	else if (fd >= 0) {
		tighten_dir(state_dir);
		if (fchmod(fd, EDPG_FILE_MODE))
			edpg_debug("cannot narrow %s to 0600: %s", path, strerror(errno));
	}
	if (fd < 0) {
		err = -errno;
		edpg_err(0, "cannot open %s: %s; %s", path, strerror(-err), edpg_write_hint(err));
		return err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		edpg_debug("another edpgate holds %s; waiting", path);
		if (flock(fd, LOCK_EX)) {
			err = -errno;
			close(fd);
			return edpg_err(err, "cannot lock %s", path);
		}
	}
	sweep_temp_files(state_dir);
	return fd;
}

void edpg_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* closing drops the flock */
}

int edpg_ifaces_load(const char *state_dir, struct edpg_ifaces *out)
{
	char path[PATH_MAX], *buf = NULL, *line, *save = NULL;
	size_t len;
	int err;

	memset(out, 0, sizeof(*out));
	edpg_state_path(path, sizeof(path), state_dir, EDPG_STATE_INTERFACES);
	err = edpg_read_file(path, &buf, &len);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct edpg_iface *i = &out->v[out->n];

		unsigned int cap;
		char end;

		if (line[0] == '#' || out->n == EDPG_MAX_IFACES)
			continue;
		/* Two words: never an interface line (those have three or
		 * four), so an older edpgate skips it. */
		if (sscanf(line, "max-gateways %u %c", &cap, &end) == 1) {
			out->max_gateways = cap;
			continue;
		}
		if (sscanf(line, "%15s %7s %7s %d", i->name, i->xdp_mode, i->enforce,
			   &i->ifindex) >= 3)
			out->n++;
	}
	free(buf);
	return 0;
}

int edpg_ifaces_save(const char *state_dir, const struct edpg_ifaces *in)
{
	char path[PATH_MAX], buf[EDPG_MAX_IFACES * 48 + 64];
	size_t off;

	off = snprintf(buf, sizeof(buf), "# attached by edpgate: IFNAME XDPMODE ENFORCE IFINDEX\n");
	for (size_t i = 0; i < in->n; i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s %s %s %d\n", in->v[i].name,
				in->v[i].xdp_mode, in->v[i].enforce, in->v[i].ifindex);
	if (in->max_gateways)
		off += snprintf(buf + off, sizeof(buf) - off, "max-gateways %u\n", in->max_gateways);
	edpg_state_path(path, sizeof(path), state_dir, EDPG_STATE_INTERFACES);
	return edpg_write_atomic(path, buf, off);
}

int edpg_state_path(char *buf, size_t len, const char *state_dir, const char *file)
{
	int n = snprintf(buf, len, "%s/%s", state_dir, file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
