// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_nftpush.c - the nftables table pushed by edpgate against `nft -f`
 * loading the very same table, in the same run.
 *
 *   bench_nftpush -r RULES -s STATE_DIR
 *	Compiles the rules data and the enrolled gateways of STATE_DIR (as
 *	`edpgate apply` does, addresses from the cache: no resolution) and
 *	pushes the whole table once.  The caller saves `nft list table inet
 *	edpgate` as the file for the comparison.
 *   bench_nftpush -r RULES -s STATE_DIR -f NFTFILE -e EMPTYFILE [-n ROUNDS]
 *	Each round, from no table: edpgate's push (building the libnftnl batch
 *	and the netlink transaction with every ack read), then `nft -f
 *	NFTFILE` (a process: parse and send), then `nft -f EMPTYFILE` (nft's
 *	start-up alone).  Prints one line per round: "EDPGATE_NS NFT_NS
 *	NFT_EMPTY_NS".
 *
 * Both sides start from a table that does not exist, so both create the
 * table, the sets with every element, and the chains in one transaction.
 * Run it in a private network namespace: it deletes `inet edpgate`.
 * Exit: 0, 1 on an error, 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "nft.h"
#include "pipeline.h"
#include "rules.h"
#include "state.h"
#include "sync.h"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int push(const struct edpg_desired *d, const struct edpg_ifaces *ifs)
{
	const char *names[EDPG_MAX_IFACES];
	struct edpg_nft_batch *b = NULL;
	struct edpg_nft_opts o = {};
	char msg[512] = "";
	int err;

	edpg_nft_opts_from(ifs, &o, names);
	err = edpg_nft_build_full(d, &o, &b);
	if (!err)
		err = edpg_nft_send(b, msg, sizeof(msg));
	edpg_nft_batch_free(b);
	if (err)
		fprintf(stderr, "bench_nftpush: push: %s (%s)\n", strerror(-err), msg);
	return err;
}

/* nft -f FILE as a process, its stdout/stderr left alone. */
static int nft_f(const char *file, long long *ns)
{
	long long t0 = now_ns();
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("nft", "nft", "-f", file, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	*ns = now_ns() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "bench_nftpush: nft -f %s failed\n", file);
		return -EIO;
	}
	return 0;
}

static int drop_table(void)
{
	int err = edpg_nft_delete_table();

	return err == -ENOENT ? 0 : err;
}

int main(int argc, char **argv)
{
	const char *nftfile = NULL, *emptyfile = NULL;
	struct edpg_desired *d = NULL;
	struct edpg_ifaces ifs;
	struct edpg_where w = {};
	struct edpg_policy p;
	long long t0, te, tn, t0n;
	unsigned int rounds = 5, r;
	int c, err;

	while ((c = getopt(argc, argv, "r:s:f:e:n:")) != -1) {
		switch (c) {
		case 'r': w.rules = optarg; break;
		case 's': w.state_dir = optarg; break;
		case 'f': nftfile = optarg; break;
		case 'e': emptyfile = optarg; break;
		case 'n': rounds = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!w.rules || !w.state_dir || !rounds || !nftfile != !emptyfile) {
		fprintf(stderr, "usage: bench_nftpush -r RULES -s STATE_DIR [-f NFTFILE -e EMPTYFILE [-n ROUNDS]]\n");
		return 2;
	}
	if (edpg_policy_load(&p, w.rules, w.state_dir, true))
		return 1;
	err = edpg_ifaces_load(w.state_dir, &ifs);
	err = err ?: edpg_desired_build(&p, &w, true, &d);
	if (err)
		goto out;
	if (!nftfile) {
		err = drop_table();
		err = err ?: push(d, &ifs);
		goto out;
	}
	for (r = 0; r < rounds && !err; r++) {
		err = drop_table();
		if (err)
			break;
		t0 = now_ns();
		err = push(d, &ifs);
		te = now_ns() - t0;
		err = err ?: drop_table();
		err = err ?: nft_f(nftfile, &tn);
		err = err ?: drop_table();
		err = err ?: nft_f(emptyfile, &t0n);
		if (!err)
			printf("%lld %lld %lld\n", te, tn, t0n);
	}
out:
	edpg_desired_put(d);
	edpg_policy_free(&p);
	if (err)
		fprintf(stderr, "bench_nftpush: %s\n", strerror(-err));
	return err ? 1 : 0;
}
