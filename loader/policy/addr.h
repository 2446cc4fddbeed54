/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * addr.h - MAC and IP address text forms, shared by the rules parser and the
 * CLI so a MAC typed on the command line and one read from the gateways file
 * are accepted and printed the same way.  Pure: no I/O, no allocation.
 */
#ifndef EDPG_ADDR_H
#define EDPG_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define EDPG_MAC_STRLEN	18	/* "00:40:9d:aa:bb:cc" + NUL */
#define EDPG_ADDR_STRLEN 64	/* INET6_ADDRSTRLEN + "/128", rounded up */

#define EDPG_DEVID_STRLEN 36	/* "00000000-00000000-00409DFF-FF58175B" + NUL */
/* The only Device ID form that encodes a MAC, for messages. */
#define EDPG_DEVID_FORM	"00000000-00000000-MMMMMMFF-FFMMMMMM"

/*
 * Accepts 00:40:9d:aa:bb:cc, 00-40-9D-AA-BB-CC and 0040.9daa.bbcc (any case),
 * and the MAC-derived Remote Manager Device ID 00000000-00000000-00409DFF-
 * FF58175B (any case): administrators know gateways by Device ID, so every
 * place that takes a MAC takes one.  Returns 0, -EINVAL for a syntax error,
 * -ERANGE for a Device ID that does not encode a MAC (IMEI, ESN, serial
 * number based), or -EDOM for a well-formed address no gateway can own
 * (multicast, broadcast, all-zero).
 */
int edpg_mac_parse(const char *s, uint8_t mac[6]);
/* What is wrong with @arg, for edpg_mac_parse()'s error @err, and the forms to use. */
const char *edpg_mac_parse_msg(const char *arg, int err, char *buf, size_t len);
/* Lower-case colon form into @out (EDPG_MAC_STRLEN bytes). */
void edpg_mac_format(const uint8_t mac[6], char out[EDPG_MAC_STRLEN]);
/* The Device ID Remote Manager derives from @mac (upper-case hex). */
void edpg_devid_format(const uint8_t mac[6], char out[EDPG_DEVID_STRLEN]);
/* Why edpg_mac_parse() said -EDOM, for messages: "multicast", ... or NULL. */
const char *edpg_mac_reject_reason(const uint8_t mac[6]);

/*
 * IPv4 or IPv6 address, optionally "/len" when @allow_prefix.  Returns 0,
 * -EINVAL (syntax, or a prefix where none is allowed), -ERANGE (prefix length
 * too long for the family) or -EDOM (host bits set below the prefix; @a is
 * still filled, with those bits cleared, so callers can suggest the fix).
 * Without a prefix plen is 32 or 128.
 */
int edpg_addr_parse(const char *s, struct edpg_addr *a, bool allow_prefix);
/* "/len" only when plen is shorter than the family's full length. 0 or -ENOSPC/-EINVAL. */
int edpg_addr_format(const struct edpg_addr *a, char *out, size_t len);
/* Full length of @family's addresses in bits (32/128) or 0 for another family. */
int edpg_addr_bits(int family);
/* Clear the bits below a->plen; returns true when any was set. */
bool edpg_addr_mask(struct edpg_addr *a);
/* Total order: family, then address bytes, then plen (memcmp-like result). */
int edpg_addr_cmp(const struct edpg_addr *a, const struct edpg_addr *b);

#endif
