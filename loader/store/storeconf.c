// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * storeconf.c - the `store` lines of edpgate.conf (storeconf.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storeconf.h"

static int conf_err(const char *file, int line, int col, const char *fmt, const char *word)
{
	fprintf(stderr, "%s:%d:%d: error: ", file, line, col);
	fprintf(stderr, fmt, word);
	fputc('\n', stderr);
	return -EINVAL;
}

/* A site, router or prefix segment: it becomes part of an etcd key. */
static bool valid_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static bool valid_prefix(const char *s)
{
	char seg[EDPG_STORE_WORD];

	if (s[0] != '/' || strlen(s) >= EDPG_STORE_WORD)
		return false;
	for (s++; *s; ) {
		size_t n = strcspn(s, "/");

		if (!n || n >= sizeof(seg))
			return false;
		memcpy(seg, s, n);
		seg[n] = '\0';
		if (!valid_word(seg))
			return false;
		s += n + (s[n] == '/');
		if (s[-1] == '/' && !*s)
			return false;	/* a trailing '/' */
	}
	return true;
}

static int set(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return -ENAMETOOLONG;
	strcpy(dst, v);
	return 0;
}

static int parse_urls(struct edpg_store_conf *c, char *v)
{
	char *save = NULL;

	c->nurls = 0;
	for (char *u = strtok_r(v, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		if (c->nurls == EDPG_STORE_MAX_URLS)
			return -E2BIG;
		if ((strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) ||
		    strlen(u) >= sizeof(c->urls[0]))
			return -EINVAL;
		/* No trailing '/': paths are appended. */
		while (strlen(u) > 8 && u[strlen(u) - 1] == '/')
			u[strlen(u) - 1] = '\0';
		strcpy(c->urls[c->nurls++], u);
	}
	return c->nurls ? 0 : -EINVAL;
}

static int parse_line(struct edpg_store_conf *c, const char *file, int lno, char *line)
{
	char *save = NULL, *w, *v;
	int err;

	w = strtok_r(line, " \t", &save);	/* "store" */
	while ((w = strtok_r(NULL, " \t", &save))) {
		int col = (int)(w - line) + 1;

		v = strtok_r(NULL, " \t", &save);
		if (!v)
			return conf_err(file, lno, col, "'%s' needs a value", w);
		if (!strcmp(w, "etcd")) {
			char urls[EDPG_STORE_MAX_URLS * 256];

			if (strlen(v) >= sizeof(urls))
				return conf_err(file, lno, col, "too many URLs after '%s'", w);
			strcpy(urls, v);
			err = parse_urls(c, urls);
			if (err)
				return conf_err(file, lno, (int)(v - line) + 1,
						"bad etcd endpoint list '%s': want http(s)://HOST:PORT[,...], at most 8",
						v);
		} else if (!strcmp(w, "prefix")) {
			if (!valid_prefix(v))
				return conf_err(file, lno, (int)(v - line) + 1,
						"bad prefix '%s': want /WORD[/WORD...] of letters, digits, '-', '_', '.'",
						v);
			set(c->prefix, sizeof(c->prefix), v);
		} else if (!strcmp(w, "site") || !strcmp(w, "router") || !strcmp(w, "user")) {
			char *dst = w[0] == 's' ? c->site : w[0] == 'r' ? c->router : c->user;

			if (!valid_word(v) || strlen(v) >= EDPG_STORE_WORD)
				return conf_err(file, lno, (int)(v - line) + 1,
						"bad name '%s': letters, digits, '-', '_', '.', at most 127", v);
			set(dst, EDPG_STORE_WORD, v);
		} else if (!strcmp(w, "password-file") || !strcmp(w, "ca") || !strcmp(w, "cert") ||
			   !strcmp(w, "key")) {
			char *dst = !strcmp(w, "password-file") ? c->password_file :
				    !strcmp(w, "ca") ? c->ca : !strcmp(w, "cert") ? c->cert : c->key;

			if (v[0] != '/' || set(dst, PATH_MAX, v))
				return conf_err(file, lno, (int)(v - line) + 1,
						"'%s' is no absolute path", v);
		} else {
			return conf_err(file, lno, col,
					"unknown store setting '%s' (etcd, prefix, site, router, user, password-file, ca, cert, key)",
					w);
		}
	}
	c->configured = true;
	return 0;
}

int edpg_store_conf_parse(struct edpg_store_conf *c, const char *file, const char *text)
{
	char line[4096];
	int lno = 0, err = 0;

	while (*text) {
		size_t n = strcspn(text, "\n");
		char *hash;

		lno++;
		if (n >= sizeof(line))
			return conf_err(file, lno, 1, "line too long%s", "");
		memcpy(line, text, n);
		line[n] = '\0';
		text += n + (text[n] == '\n');
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (strncmp(line + strspn(line, " \t"), "store", 5) ||
		    !strchr(" \t", line[strspn(line, " \t") + 5]))
			continue;
		err = parse_line(c, file, lno, line + strspn(line, " \t"));
		if (err)
			return err;
	}
	return 0;
}

int edpg_store_conf_finish(struct edpg_store_conf *c, const char *from)
{
	const char *missing = !c->nurls ? "etcd URL[,URL...]" : !c->prefix[0] ? "prefix P" :
			      !c->site[0] ? "site S" : NULL;

	if (!c->configured)
		return 0;
	if (missing) {
		fprintf(stderr, "edpgate: error: %s: the store needs `%s` (e.g. `store etcd https://e1:2379 prefix /edpgate site plant-7`)\n",
			from, missing);
		return -EINVAL;
	}
	if (!c->router[0]) {
		char h[EDPG_STORE_WORD] = "";

		gethostname(h, sizeof(h) - 1);
		h[strcspn(h, ".")] = '\0';
		if (!valid_word(h))
			snprintf(h, sizeof(h), "router");
		set(c->router, sizeof(c->router), h);
	}
	if (c->cert[0] != c->key[0] && (!c->cert[0] || !c->key[0])) {
		fprintf(stderr, "edpgate: error: %s: a client certificate needs both `cert FILE` and `key FILE`\n",
			from);
		return -EINVAL;
	}
	return 0;
}
