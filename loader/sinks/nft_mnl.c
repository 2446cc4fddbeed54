// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nft_mnl.c - the netlink transport: send a batch as one transaction and
 * read every ack; the rtnetlink questions the sink asks (bridge ports).
 */
#include "nft_internal.h"

/* ---- talking to the kernel ---------------------------------------------- */

int nft_sock_open(struct mnl_socket **out, size_t sndbuf, size_t rcvbuf)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int one = 1, fd, v, ret;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		mnl_socket_close(nl);
		return ret;
	}
	/* Error strings from the kernel, and no echo of our (large)
	 * messages in every error. */
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	fd = mnl_socket_get_fd(nl);
	/* The whole batch goes in one sendmsg (one skb = one transaction),
	 * so the send buffer must hold it; the FORCE variants pass the
	 * sysctl limits as root. */
	v = sndbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)sndbuf;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	v = rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)rcvbuf;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	*out = nl;
	return 0;
}

/* The kernel's own words for an error, if it sent any. */
static const char *ext_ack_msg(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*e);
	const struct nlattr *a;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
			return mnl_attr_get_str(a);
	}
	return NULL;
}

int edpg_nft_send(struct edpg_nft_batch *b, char *err, size_t errlen)
{
	size_t expect = b->nall >= 2 ? b->nall - 2 : 0, got = 0, nerr = 0;
	struct mnl_socket *nl = NULL;
	char *buf = NULL;
	int ret, first = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!edpg_nft_batch_nmsgs(b))
		return 0;	/* an empty change sends nothing */
	ret = nft_sock_open(&nl, b->len + 65536, expect * 1024 + 262144);
	if (ret) {
		if (err)
			snprintf(err, errlen, "opening a netfilter netlink socket: %s", strerror(-ret));
		return ret;
	}
	buf = malloc(MNL_SOCKET_BUFFER_SIZE * 8);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	if (mnl_socket_sendto(nl, b->buf, b->len) != (ssize_t)b->len) {
		ret = -errno;
		if (err)
			snprintf(err, errlen, "sending the nftables transaction (%zu bytes): %s",
				 b->len, strerror(errno));
		goto out;
	}
	/*
	 * The kernel processes the batch inside sendmsg and queues one ack
	 * per message (errors included) before it returns; read them all.
	 * After an error keep draining without waiting so that the first
	 * error (the cause; later ones are often its consequence) is known.
	 */
	while (got < expect) {
		struct pollfd p = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		struct nlmsghdr *nlh;
		ssize_t n;
		int len;

		if (poll(&p, 1, nerr ? 0 : 5000) <= 0)
			break;
		n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE * 8);
		if (n < 0) {
			if (!first)
				first = -errno;
			break;
		}
		len = (int)n;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;
			const char *what, *kmsg;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			got++;
			e = mnl_nlmsg_get_payload(nlh);
			if (!e->error)
				continue;
			if (nerr++)
				continue;
			first = e->error;
			what = edpg_nft_batch_describe(b, nlh->nlmsg_seq);
			kmsg = ext_ack_msg(nlh);
			if (err)
				snprintf(err, errlen, "%s: %s%s%s%s", what ? what : "nftables transaction",
					 strerror(-e->error), kmsg ? " (" : "", kmsg ? kmsg : "",
					 kmsg ? ")" : "");
		}
	}
	if (!first && got < expect) {
		first = -ETIMEDOUT;
		if (err)
			snprintf(err, errlen, "nftables transaction: %zu of %zu messages acknowledged",
				 got, expect);
	}
	if (nerr > 1 && err) {
		size_t l = strlen(err);

		snprintf(err + l, errlen - l, " (and %zu more error%s)", nerr - 1,
			 nerr > 2 ? "s" : "");
	}
	ret = first;
out:
	free(buf);
	mnl_socket_close(nl);
	return ret;
}

int edpg_nft_delete_table(void)
{
	struct edpg_nft_batch *b;
	char err[256];
	int ret;

	ret = edpg_nft_build_delete(&b);
	if (ret)
		return ret;
	ret = edpg_nft_send(b, err, sizeof(err));
	edpg_nft_batch_free(b);
	return ret;
}

/* ---- what the inet hooks can see ------------------------------------------ */

size_t edpg_nft_vlan_unchecked(const struct edpg_desired *d, const struct edpg_nft_opts *o,
			       char *msg, size_t len)
{
	const struct edpg_want_gw *first = NULL;
	size_t i, n = 0;

	if (o->enforce != EDPG_ENFORCE_NFT)
		return 0;
	for (i = 0; i < d->ngws; i++) {
		if (!(d->gws[i].rec.flags & EDPG_GW_BIND_VLAN))
			continue;
		if (!n++)
			first = &d->gws[i];
	}
	if (n && msg && len)
		snprintf(msg, len, "%zu gateway%s bound to a VLAN (%02x:%02x:%02x:%02x:%02x:%02x to VLAN %u%s): with --enforce nft the VLAN is not checked, because nftables sees a frame after its tag is gone; VLAN binding needs XDP (--enforce xdp|both)",
			 n, n == 1 ? "" : "s", first->mac[0], first->mac[1], first->mac[2],
			 first->mac[3], first->mac[4], first->mac[5], first->rec.vlan,
			 n > 1 ? ", ..." : "");
	return n;
}


static int linkinfo_cb(const struct nlattr *a, void *data)
{
	struct port_info *pi = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_SLAVE_KIND &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0 &&
	    !strcmp(mnl_attr_get_str(a), "bridge"))
		pi->bridge_port = true;
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct port_info *pi = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_MASTER:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			pi->master = mnl_attr_get_u32(a);
		break;
	case IFLA_LINKINFO:
		mnl_attr_parse_nested(a, linkinfo_cb, pi);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, data);
	return MNL_CB_OK;
}

int edpg_nft_bridge_port(const char *ifname, char *bridge, size_t len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], name[IF_NAMESIZE];
	unsigned int idx = if_nametoindex(ifname);
	struct port_info pi = { 0 };
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	uint32_t seq = (uint32_t)time(NULL);
	ssize_t n;
	int ret;

	if (!idx)
		return -ENODEV;
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)idx;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	ret = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), link_cb, &pi);
	if (ret < 0) {
		ret = -errno;
		goto out;
	}
	ret = 0;
	if (pi.bridge_port && pi.master) {
		if (!if_indextoname(pi.master, name))
			snprintf(name, sizeof(name), "ifindex %u", pi.master);
		snprintf(bridge, len, "%s", name);
		ret = 1;
	}
out:
	mnl_socket_close(nl);
	return ret;
}
