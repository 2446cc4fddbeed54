// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rtlink.c - rtnetlink link events through libmnl.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "rtlink.h"

struct edpg_rtlink {
	struct mnl_socket *nl;
	edpg_rtlink_fn fn;
	void *ctx;
};

int edpg_rtlink_open(struct edpg_rtlink **out)
{
	struct edpg_rtlink *l;
	int err;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!l->nl)
		goto fail;
	if (mnl_socket_bind(l->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	*out = l;
	return 0;
fail:
	err = -errno;
	if (l->nl)
		mnl_socket_close(l->nl);
	free(l);
	return err;
}

int edpg_rtlink_fd(const struct edpg_rtlink *l)
{
	return mnl_socket_get_fd(l->nl);
}

static int on_link(const struct nlmsghdr *nlh, void *data)
{
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct edpg_rtlink *l = data;
	const char *name = NULL;
	struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifm))
		if (mnl_attr_get_type(a) == IFLA_IFNAME && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			name = mnl_attr_get_str(a);
	if (name)
		l->fn(l->ctx, name, ifm->ifi_index, nlh->nlmsg_type == RTM_DELLINK,
		      ifm->ifi_flags & IFF_UP);
	return MNL_CB_OK;
}

int edpg_rtlink_read(struct edpg_rtlink *l, edpg_rtlink_fn fn, void *ctx)
{
	char buf[16384];
	ssize_t n;

	l->fn = fn;
	l->ctx = ctx;
	while ((n = mnl_socket_recvfrom(l->nl, buf, sizeof(buf))) > 0)
		mnl_cb_run(buf, n, 0, 0, on_link, l);
	if (n < 0 && errno != EAGAIN)
		return -ENOBUFS;
	return 0;
}

void edpg_rtlink_close(struct edpg_rtlink *l)
{
	if (!l)
		return;
	mnl_socket_close(l->nl);
	free(l);
}
