// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pcapfile.c - pcap and pcapng, read strictly from memory (see pcapfile.h).
 *
 * Formats: the classic libpcap file (a 24-byte header, then 16-byte
 * record headers) and pcapng (draft-ietf-opsawg-pcapng): blocks of
 * type, total length, body, total length again.  Each error names the
 * byte offset and says what is wrong, so a damaged capture can be cut
 * at the right place.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pcapfile.h"

#define PCAP_MAGIC_US	0xa1b2c3d4
#define PCAP_MAGIC_NS	0xa1b23c4d
#define PCAP_HDR_LEN	24
#define PCAP_REC_LEN	16

#define NG_SHB		0x0a0d0d0a
#define NG_IDB		0x00000001
#define NG_SPB		0x00000003
#define NG_EPB		0x00000006
#define NG_BOM		0x1a2b3c4d
#define NG_MIN_BLOCK	12

#define LINKTYPE_ETHERNET 1

static int fail(struct edpg_pcap *r, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct edpg_pcap *r, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(r->err, sizeof(r->err), "offset %zu: ", off);
	va_start(ap, fmt);
	vsnprintf(r->err + n, sizeof(r->err) - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static uint32_t rd32(const struct edpg_pcap *r, size_t off)
{
	uint32_t v;

	memcpy(&v, r->buf + off, 4);
	return r->swap ? __builtin_bswap32(v) : v;
}

static uint16_t rd16(const struct edpg_pcap *r, size_t off)
{
	uint16_t v;

	memcpy(&v, r->buf + off, 2);
	return r->swap ? __builtin_bswap16(v) : v;
}

static size_t left(const struct edpg_pcap *r)
{
	return r->len - r->off;
}

/* A section header at r->off: sets the byte order, forgets interfaces. */
static int ng_section(struct edpg_pcap *r, uint32_t *blen)
{
	uint32_t bom;

	if (left(r) < 28)
		return fail(r, r->off, "section header block cut short (%zu bytes left)", left(r));
	memcpy(&bom, r->buf + r->off + 8, 4);
	if (bom == NG_BOM)
		r->swap = false;
	else if (bom == __builtin_bswap32(NG_BOM))
		r->swap = true;
	else
		return fail(r, r->off + 8, "section header with byte-order magic %#x", bom);
	if (rd16(r, r->off + 12) != 1)
		return fail(r, r->off + 12, "pcapng major version %u, want 1", rd16(r, r->off + 12));
	*blen = rd32(r, r->off + 4);
	r->nifaces = 0;
	return 0;
}

int edpg_pcap_open(struct edpg_pcap *r, const uint8_t *buf, size_t len)
{
	uint32_t magic, blen;

	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
	if (len < 4)
		return fail(r, 0, "too short for a capture (%zu bytes)", len);
	memcpy(&magic, buf, 4);
	if (magic == NG_SHB) {
		r->ng = true;
		/* The first block is read by edpg_pcap_next like any other
		 * section header; check it here so a bad file fails at once. */
		return ng_section(r, &blen);
	}
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS) {
		r->swap = false;
	} else if (magic == __builtin_bswap32(PCAP_MAGIC_US) ||
		   magic == __builtin_bswap32(PCAP_MAGIC_NS)) {
		r->swap = true;
	} else {
		return fail(r, 0, "magic %#x is neither pcap nor pcapng", magic);
	}
	if (len < PCAP_HDR_LEN)
		return fail(r, 0, "pcap header cut short (%zu of %d bytes)", len, PCAP_HDR_LEN);
	if (rd16(r, 4) != 2)
		return fail(r, 4, "pcap major version %u, want 2", rd16(r, 4));
	r->snaplen = rd32(r, 16);
	/* The upper bits carry FCS information, not the link type. */
	r->linktype = rd32(r, 20) & 0x0fffffff;
	if (r->linktype != LINKTYPE_ETHERNET)
		return fail(r, 20, "link type %u, want Ethernet (1): capture on the LAN interface itself, not `any`",
			    r->linktype);
	r->off = PCAP_HDR_LEN;
	return 0;
}

static int pcap_next_rec(struct edpg_pcap *r, struct edpg_pcap_frame *f)
{
	uint32_t incl, orig;

	if (left(r) == 0)
		return 0;
	if (left(r) < PCAP_REC_LEN)
		return fail(r, r->off, "frame %llu: record header cut short (%zu bytes left)",
			    (unsigned long long)r->nframes + 1, left(r));
	incl = rd32(r, r->off + 8);
	orig = rd32(r, r->off + 12);
	if (incl > EDPG_PCAP_MAX_FRAME)
		return fail(r, r->off + 8, "frame %llu: %u captured bytes, more than any snaplen",
			    (unsigned long long)r->nframes + 1, incl);
	if (incl > orig)
		return fail(r, r->off + 8, "frame %llu: %u bytes captured of %u on the wire",
			    (unsigned long long)r->nframes + 1, incl, orig);
	if (incl > left(r) - PCAP_REC_LEN)
		return fail(r, r->off, "frame %llu: %u bytes, but only %zu left in the file",
			    (unsigned long long)r->nframes + 1, incl, left(r) - PCAP_REC_LEN);
	f->data = r->buf + r->off + PCAP_REC_LEN;
	f->caplen = incl;
	f->len = orig;
	r->off += PCAP_REC_LEN + incl;
	r->nframes++;
	return 1;
}

/* The frame of an EPB or SPB whose body is @body, @blen bytes long. */
static int ng_packet(struct edpg_pcap *r, uint32_t type, size_t body, uint32_t blen,
		     struct edpg_pcap_frame *f)
{
	size_t room = blen - NG_MIN_BLOCK, hdr = type == NG_EPB ? 20 : 4;
	uint32_t ifc = 0, cap, orig;

	if (room < hdr)
		return fail(r, r->off, "%s of %u bytes is too short", type == NG_EPB ?
			    "enhanced packet block" : "simple packet block", blen);
	if (type == NG_EPB) {
		ifc = rd32(r, body);
		cap = rd32(r, body + 12);
		orig = rd32(r, body + 16);
	} else {
		orig = rd32(r, body);
		cap = orig;
	}
	if (ifc >= r->nifaces)
		return fail(r, body, "frame %llu: interface %u, but the section describes %zu",
			    (unsigned long long)r->nframes + 1, ifc, r->nifaces);
	if (r->iface_link[ifc] != LINKTYPE_ETHERNET)
		return fail(r, body, "frame %llu: interface %u has link type %u, want Ethernet (1)",
			    (unsigned long long)r->nframes + 1, ifc, r->iface_link[ifc]);
	/* A simple packet block holds min(original length, snaplen). */
	if (type == NG_SPB && r->iface_snap[ifc] && cap > r->iface_snap[ifc])
		cap = r->iface_snap[ifc];
	if (cap > room - hdr || cap > EDPG_PCAP_MAX_FRAME)
		return fail(r, body, "frame %llu: %u captured bytes do not fit its block of %u",
			    (unsigned long long)r->nframes + 1, cap, blen);
	if (type == NG_EPB && cap > orig)
		return fail(r, body + 12, "frame %llu: %u bytes captured of %u on the wire",
			    (unsigned long long)r->nframes + 1, cap, orig);
	f->data = r->buf + body + hdr;
	f->caplen = cap;
	f->len = orig;
	r->nframes++;
	return 1;
}

static int ng_next(struct edpg_pcap *r, struct edpg_pcap_frame *f)
{
	for (;;) {
		uint32_t type, blen;
		size_t start = r->off;
		int ret = 0;

		if (left(r) == 0)
			return 0;
		if (left(r) < NG_MIN_BLOCK)
			return fail(r, start, "block cut short (%zu bytes left)", left(r));
		memcpy(&type, r->buf + start, 4);	/* SHB reads the same both ways */
		if (type == NG_SHB) {
			ret = ng_section(r, &blen);
			if (ret)
				return ret;
		} else {
			type = rd32(r, start);
			blen = rd32(r, start + 4);
		}
		if (blen < NG_MIN_BLOCK || blen % 4)
			return fail(r, start + 4, "block length %u (type %#x) is not a multiple of 4 of at least 12",
				    blen, type);
		if (blen > left(r))
			return fail(r, start + 4, "block of %u bytes, but only %zu left in the file", blen,
				    left(r));
		if (rd32(r, start + blen - 4) != blen)
			return fail(r, start + blen - 4, "block length %u at its end, %u at its start",
				    rd32(r, start + blen - 4), blen);
		switch (type) {
		case NG_IDB:
			if (blen < 20)
				return fail(r, start, "interface description block of %u bytes", blen);
			if (r->nifaces == EDPG_PCAP_MAX_IFACES)
				return fail(r, start, "more than %d interfaces in one section",
					    EDPG_PCAP_MAX_IFACES);
			r->iface_link[r->nifaces] = rd16(r, start + 8);
			r->iface_snap[r->nifaces] = rd32(r, start + 12);
			r->nifaces++;
			break;
		case NG_EPB:
		case NG_SPB:
			ret = ng_packet(r, type, start + 8, blen, f);
			break;
		default:
			break;	/* statistics, name resolution, custom: not ours */
		}
		r->off = start + blen;
		if (ret)
			return ret;
	}
}

int edpg_pcap_next(struct edpg_pcap *r, struct edpg_pcap_frame *f)
{
	return r->ng ? ng_next(r, f) : pcap_next_rec(r, f);
}
