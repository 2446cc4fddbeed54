// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_exec.c - run one command, print "WALL_NS MAXRSS_KIB EXIT".
 *
 * The wall time spans fork to reaped exit, so a CLI figure includes the
 * process start (exec, dynamic linking, libbpf/libnftnl set-up) exactly as
 * an administrator's command pays it; the peak RSS is the child's own
 * (wait4's ru_maxrss), not the shell's.  Timed here rather than in the
 * shell, so the shell's own fork and the nsenter in front of us are not
 * part of the figure.  The command's stdout goes to /dev/null, its stderr
 * stays (a failure should be seen).
 *
 * Usage: bench_exec CMD [ARG...]
 * Exit: 0 when the command ran (its own status is printed), 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status, fd;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_exec CMD [ARG...]\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "bench_exec: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "bench_exec: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		fprintf(stderr, "bench_exec: wait4: %s\n", strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%lld %ld %d\n",
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
	       ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
