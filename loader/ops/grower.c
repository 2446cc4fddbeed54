// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * grower.c - the daemon's map-growing helper (see grower.h).
 *
 * One request, one answer, on a SOCK_SEQPACKET pair: the daemon sends the
 * slot count (a uint32_t), the helper answers with a struct grow_reply.
 * The helper opens the pins afresh for every request: between two
 * growths the daemon, a command or the keeper may have replaced them.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "grower.h"
#include "log.h"
#include "state.h"

struct grow_reply {
	int32_t err;		/* 0 or -errno */
	struct edpg_grown g;
};

void edpg_grower_init(struct edpg_grower *gr)
{
	gr->pid = 0;
	gr->fd = -1;
}

static int grow_once(const char *pin_dir, const char *state_dir, uint32_t cap,
		     struct edpg_grown *g)
{
	struct edpg_ifaces ifs;
	struct edpg_bpf b;
	int err;

	err = edpg_ifaces_load(state_dir, &ifs);
	if (err)
		return edpg_err(err, "grower: cannot read the recorded interfaces");
	err = edpg_bpf_open_pinned(&b, pin_dir);
	if (err)
		return err;
	err = edpg_bpf_grow(&b, pin_dir, &ifs, cap, g);
	edpg_bpf_close(&b);
	return err;
}

static void __attribute__((noreturn)) serve(int fd, pid_t daemon, const char *pin_dir,
					    const char *state_dir)
{
	sigset_t all;
	uint32_t cap;
	ssize_t n;

	/* Gone with the daemon, however it ends; and not a target of the
	 * signals the daemon reads from its signalfd (they are blocked,
	 * and a blocked SIGTERM would keep a stopping unit waiting). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != daemon)
		_exit(1);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	/* Nothing of the daemon's but the socket and stderr (the journal):
	 * no ring, no netlink socket, no store connection. */
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			_exit(1);
		fd = 3;
	}
	if (syscall(SYS_close_range, 4U, ~0U, 0U))
		_exit(1);
	if (edpg_caps_limit(EDPG_GROW_CAPS))
		_exit(1);
	while ((n = recv(fd, &cap, sizeof(cap), 0)) == (ssize_t)sizeof(cap)) {
		struct grow_reply rep = {};

		rep.err = grow_once(pin_dir, state_dir, cap, &rep.g);
		if (send(fd, &rep, sizeof(rep), MSG_NOSIGNAL) != (ssize_t)sizeof(rep))
			break;
	}
	_exit(0);	/* the daemon closed its end */
}

int edpg_grower_start(struct edpg_grower *gr, const char *pin_dir, const char *state_dir)
{
	pid_t daemon = getpid();
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return edpg_err(-errno, "grower: socketpair");
	/* Whatever the parent buffered must not be written twice. */
	fflush(NULL);
	gr->pid = fork();
	if (gr->pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		gr->pid = 0;
		return edpg_err(err, "grower: fork");
	}
	if (!gr->pid) {
		close(sv[0]);
		serve(sv[1], daemon, pin_dir, state_dir);
	}
	close(sv[1]);
	gr->fd = sv[0];
	return 0;
}

int edpg_grower_grow(void *grower, uint32_t cap, struct edpg_grown *g)
{
	struct edpg_grower *gr = grower;
	struct grow_reply rep;
	ssize_t n;

	if (gr->fd < 0)
		return -ENOTCONN;
	if (send(gr->fd, &cap, sizeof(cap), MSG_NOSIGNAL) != (ssize_t)sizeof(cap))
		return edpg_err(-EPIPE, "grower: the helper is gone; restart the daemon to grow the maps");
	do
		n = recv(gr->fd, &rep, sizeof(rep), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rep))
		return edpg_err(-EPIPE, "grower: no answer from the helper; restart the daemon to grow the maps");
	*g = rep.g;
	return rep.err;
}

void edpg_grower_stop(struct edpg_grower *gr)
{
	if (gr->fd >= 0)
		close(gr->fd);
	/* Its end reads EOF and it exits; reap it. */
	if (gr->pid > 0)
		waitpid(gr->pid, NULL, 0);
	edpg_grower_init(gr);
}
