// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * etcd.c - the etcd v3 JSON gateway client (etcd.h).
 *
 * Every call is one HTTP POST of a JSON body; the answer is parsed with
 * json-c.  int64 fields come as JSON strings (proto3 JSON mapping) and
 * bytes as base64.  A request that cannot reach its endpoint moves the
 * handle to the next one; an answer of the server (even an error) does
 * not, since the cluster answered.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only the types and constants: the functions come through lc (below). */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <json-c/json.h>
#include <pthread.h>

#include "etcd.h"

struct edpg_etcd {
	struct edpg_store_conf c;
	CURL *curl;
	size_t cur;			/* the endpoint in use */
	char token[512];		/* auth token, "" without auth */
	char password[256];
	long timeout_ms;
	char err[512];
};

/* grpc status codes the gateway returns in {"code": N} */
#define GRPC_OUT_OF_RANGE	11
#define GRPC_PERMISSION_DENIED	7
#define GRPC_UNAUTHENTICATED	16
#define GRPC_INVALID_ARGUMENT	3
#define GRPC_NOT_FOUND		5

static int set_err(struct edpg_etcd *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_err(struct edpg_etcd *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *edpg_etcd_error(const struct edpg_etcd *e)
{
	return e->err;
}

void edpg_etcd_set_timeout(struct edpg_etcd *e, long ms)
{
	e->timeout_ms = ms;
}

/*
 * libcurl, loaded when a store is first used: a router without a store
 * does not map it and its dependencies (TLS, HTTP/2, LDAP, SSH, ... about
 * 5 MiB of resident pages in `edpgate run`).
 */
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *h);
	void (*easy_reset)(CURL *h);
	CURLcode (*easy_setopt)(CURL *h, CURLoption o, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO i, ...);
	const char *(*easy_strerror)(CURLcode c);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
} lc;
static int lc_err;
static pthread_once_t lc_once = PTHREAD_ONCE_INIT;

static void lc_load(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		lc_err = -ENOENT;
		return;
	}
#define LC_SYM(f) (*(void **)&lc.f = dlsym(h, "curl_" #f))
	if (!LC_SYM(global_init) || !LC_SYM(easy_init) || !LC_SYM(easy_cleanup) ||
	    !LC_SYM(easy_reset) || !LC_SYM(easy_setopt) || !LC_SYM(easy_perform) ||
	    !LC_SYM(easy_getinfo) || !LC_SYM(easy_strerror) || !LC_SYM(slist_append) ||
	    !LC_SYM(slist_free_all)) {
		lc_err = -ENOSYS;
		return;
	}
#undef LC_SYM
	/* Not thread-safe: once, here, for every thread's handle. */
	if (lc.global_init(CURL_GLOBAL_DEFAULT))
		lc_err = -ENOMEM;
}

/* ---- base64 ------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *edpg_b64_encode(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t rem = len - i;

		if (rem > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (rem > 2)
			v |= p[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = rem > 1 ? b64[v >> 6 & 63] : '=';
		*o++ = rem > 2 ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int edpg_b64_decode(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s), o = 0;
	char *buf;

	if (n % 4)
		return -EINVAL;
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 4) {
		int a = b64_val(s[i]), b = b64_val(s[i + 1]);
		int c = s[i + 2] == '=' ? 0 : b64_val(s[i + 2]);
		int d = s[i + 3] == '=' ? 0 : b64_val(s[i + 3]);
		uint32_t v;

		if (a < 0 || b < 0 || c < 0 || d < 0 ||
		    ((s[i + 2] == '=' || s[i + 3] == '=') && i + 4 != n) ||
		    (s[i + 2] == '=' && s[i + 3] != '=')) {
			free(buf);
			return -EINVAL;
		}
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		buf[o++] = v >> 16;
		if (s[i + 2] != '=')
			buf[o++] = v >> 8 & 0xff;
		if (s[i + 3] != '=')
			buf[o++] = v & 0xff;
	}
	buf[o] = '\0';
	*out = buf;
	*len = o;
	return 0;
}

/* ---- HTTP --------------------------------------------------------------- */

struct resp {
	char *buf;
	size_t len, cap;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct resp *r = ctx;
	size_t n = size * nmemb;

	if (r->len + n + 1 > r->cap) {
		size_t cap = (r->len + n + 1) * 2;
		char *b = realloc(r->buf, cap);

		if (!b)
			return 0;	/* curl fails the transfer */
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return n;
}

static int read_password(struct edpg_etcd *e)
{
	FILE *f;

	if (!e->c.password_file[0])
		return 0;
	f = fopen(e->c.password_file, "r");
	if (!f)
		return set_err(e, -errno, "cannot read the store password file %s: %s",
			       e->c.password_file, strerror(errno));
	if (!fgets(e->password, sizeof(e->password), f))
		e->password[0] = '\0';
	fclose(f);
	e->password[strcspn(e->password, "\r\n")] = '\0';
	return 0;
}

int edpg_etcd_open(struct edpg_etcd **out, const struct edpg_store_conf *c)
{
	struct edpg_etcd *e;
	int err;

	*out = NULL;
	pthread_once(&lc_once, lc_load);
	if (lc_err) {
		fprintf(stderr, "edpgate: error: cannot load libcurl.so.4 for the store (%s); install libcurl4\n",
			dlerror() ?: strerror(-lc_err));
		return lc_err;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->c = *c;
	e->timeout_ms = 5000;
	e->curl = lc.easy_init();
	if (!e->curl) {
		free(e);
		return -ENOMEM;
	}
	err = read_password(e);
	if (err) {
		fprintf(stderr, "edpgate: error: %s\n", e->err);
		edpg_etcd_close(e);
		return err;
	}
	*out = e;
	return 0;
}

void edpg_etcd_close(struct edpg_etcd *e)
{
	if (!e)
		return;
	lc.easy_cleanup(e->curl);
	memset(e->password, 0, sizeof(e->password));
	free(e);
}

static void setup_curl(struct edpg_etcd *e, const char *url, const char *body,
		       struct curl_slist *hdrs, long timeout_ms)
{
	CURL *h = e->curl;

	lc.easy_reset(h);
	lc.easy_setopt(h, CURLOPT_URL, url);
	lc.easy_setopt(h, CURLOPT_POSTFIELDS, body);
	lc.easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	lc.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	lc.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	lc.easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* A partitioned peer goes silent: keepalive notices it. */
	lc.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	lc.easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 2L);
	lc.easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 1L);
	if (e->c.ca[0])
		lc.easy_setopt(h, CURLOPT_CAINFO, e->c.ca);
	if (e->c.cert[0]) {
		lc.easy_setopt(h, CURLOPT_SSLCERT, e->c.cert);
		lc.easy_setopt(h, CURLOPT_SSLKEY, e->c.key);
	}
}

static bool unreachable(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_RECV_ERROR ||
	       rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_SSL_CONNECT_ERROR;
}

/*
 * One POST to @path; the parsed answer in @out (or NULL).  Tries the
 * endpoints from the current one; a {"code": N} answer maps to -errno.
 */
static int post_raw(struct edpg_etcd *e, const char *path, const char *body, json_object **out)
{
	struct curl_slist *hdrs = NULL;
	struct resp r = {};
	char url[512], auth[600];
	CURLcode rc = CURLE_OK;
	long status = 0;
	int err = 0;

	*out = NULL;
	hdrs = lc.slist_append(hdrs, "Content-Type: application/json");
	if (e->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: %s", e->token);
		hdrs = lc.slist_append(hdrs, auth);
	}
	for (size_t tries = 0; tries < e->c.nurls; tries++) {
		snprintf(url, sizeof(url), "%s%s", e->c.urls[e->cur], path);
		setup_curl(e, url, body, hdrs, e->timeout_ms);
		lc.easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, collect);
		lc.easy_setopt(e->curl, CURLOPT_WRITEDATA, &r);
		r.len = 0;
		rc = lc.easy_perform(e->curl);
		if (rc == CURLE_OK || !unreachable(rc))
			break;
		e->cur = (e->cur + 1) % e->c.nurls;
	}
	lc.slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		err = set_err(e, unreachable(rc) ? -EHOSTUNREACH : -EIO,
			      "no etcd endpoint answered (last %s: %s)", url, lc.easy_strerror(rc));
		goto out;
	}
	lc.easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	*out = r.buf ? json_tokener_parse(r.buf) : NULL;
	if (!*out) {
		err = set_err(e, -EPROTO, "%s answered HTTP %ld with no JSON", url, status);
		goto out;
	}
	{
		json_object *code, *msg;

		if (json_object_object_get_ex(*out, "code", &code) && json_object_get_int(code)) {
			int c = json_object_get_int(code);
			const char *m = json_object_object_get_ex(*out, "message", &msg) ||
					json_object_object_get_ex(*out, "error", &msg) ?
					json_object_get_string(msg) : "?";

			err = c == GRPC_PERMISSION_DENIED || c == GRPC_UNAUTHENTICATED ? -EACCES :
			      c == GRPC_OUT_OF_RANGE && strstr(m, "compacted") ? -ENODATA :
			      c == GRPC_NOT_FOUND ? -ENOENT : -EIO;
			set_err(e, err, "etcd refused %s: %s", path, m);
			if (c == GRPC_UNAUTHENTICATED)
				e->token[0] = '\0';	/* expired: authenticate again */
			json_object_put(*out);
			*out = NULL;
		}
	}
out:
	free(r.buf);
	return err;
}

static int authenticate(struct edpg_etcd *e)
{
	json_object *req, *ans = NULL, *tok;
	int err;

	if (!e->c.user[0] || e->token[0])
		return 0;
	req = json_object_new_object();
	json_object_object_add(req, "name", json_object_new_string(e->c.user));
	json_object_object_add(req, "password", json_object_new_string(e->password));
	err = post_raw(e, "/v3/auth/authenticate", json_object_to_json_string(req), &ans);
	json_object_put(req);
	if (err == -EACCES || err == -EIO)
		return set_err(e, -EACCES, "etcd refused user '%s' (check `store user` and the password file)",
			       e->c.user);
	if (err)
		return err;
	if (!json_object_object_get_ex(ans, "token", &tok)) {
		json_object_put(ans);
		return set_err(e, -EPROTO, "etcd's authenticate answer has no token");
	}
	snprintf(e->token, sizeof(e->token), "%s", json_object_get_string(tok));
	json_object_put(ans);
	return 0;
}

/* post_raw() with authentication, and once again after a token expired. */
static int post(struct edpg_etcd *e, const char *path, json_object *req, json_object **out)
{
	int err;

	for (int i = 0; i < 2; i++) {
		err = authenticate(e);
		if (err)
			break;
		err = post_raw(e, path, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN),
			       out);
		if (err != -EACCES || e->token[0] || !e->c.user[0])
			break;
	}
	return err;
}

/* ---- JSON helpers -------------------------------------------------------- */

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static void add_b64(json_object *o, const char *k, const void *buf, size_t len)
{
	char *s = edpg_b64_encode(buf, len);

	json_object_object_add(o, k, json_object_new_string(s ? s : ""));
	free(s);
}

/* The range_end of "every key under @key": the key with its last byte + 1. */
static void add_prefix_end(json_object *o, const char *key)
{
	size_t n = strlen(key);
	char *end = strdup(key);

	if (end && n) {
		end[n - 1]++;
		add_b64(o, "range_end", end, n);
	}
	free(end);
}

static int kv_parse(json_object *j, struct edpg_kv *kv)
{
	json_object *k, *v;
	size_t n;
	int err;

	memset(kv, 0, sizeof(*kv));
	if (!json_object_object_get_ex(j, "key", &k))
		return -EPROTO;
	err = edpg_b64_decode(json_object_get_string(k), &kv->key, &n);
	if (err)
		return -EPROTO;
	if (json_object_object_get_ex(j, "value", &v))
		err = edpg_b64_decode(json_object_get_string(v), &kv->val, &kv->len);
	else
		err = (kv->val = calloc(1, 1)) ? 0 : -ENOMEM;
	if (err) {
		free(kv->key);
		return err == -ENOMEM ? err : -EPROTO;
	}
	kv->mod_rev = jint(j, "mod_revision");
	kv->create_rev = jint(j, "create_revision");
	kv->lease = jint(j, "lease");
	return 0;
}

static void kv_free(struct edpg_kv *kv)
{
	free(kv->key);
	free(kv->val);
}

void edpg_kvs_free(struct edpg_kvs *k)
{
	for (size_t i = 0; i < k->n; i++)
		kv_free(&k->v[i]);
	free(k->v);
	memset(k, 0, sizeof(*k));
}

static int kvs_parse(struct edpg_etcd *e, json_object *arr, struct edpg_kvs *out)
{
	size_t n = arr ? json_object_array_length(arr) : 0;
	int err;

	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		err = kv_parse(json_object_array_get_idx(arr, i), &out->v[i]);
		if (err)
			return set_err(e, err, "an etcd key-value that is not base64");
		out->n++;
	}
	return 0;
}

/* ---- KV ------------------------------------------------------------------ */

int edpg_etcd_range(struct edpg_etcd *e, const char *key, bool prefix, int64_t rev,
		    struct edpg_kvs *out)
{
	json_object *req = json_object_new_object(), *ans = NULL, *kvs = NULL, *hdr = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	add_b64(req, "key", key, strlen(key));
	if (prefix)
		add_prefix_end(req, key);
	if (rev)
		json_object_object_add(req, "revision", json_object_new_int64(rev));
	err = post(e, "/v3/kv/range", req, &ans);
	json_object_put(req);
	if (err)
		return err;
	json_object_object_get_ex(ans, "header", &hdr);
	out->rev = jint(hdr, "revision");
	json_object_object_get_ex(ans, "kvs", &kvs);
	err = kvs_parse(e, kvs, out);
	json_object_put(ans);
	if (err)
		edpg_kvs_free(out);
	return err;
}

int edpg_etcd_put(struct edpg_etcd *e, const char *key, const void *val, size_t len,
		  int64_t lease)
{
	json_object *req = json_object_new_object(), *ans = NULL;
	int err;

	add_b64(req, "key", key, strlen(key));
	add_b64(req, "value", val, len);
	if (lease)
		json_object_object_add(req, "lease", json_object_new_int64(lease));
	err = post(e, "/v3/kv/put", req, &ans);
	json_object_put(req);
	json_object_put(ans);
	return err;
}

int edpg_etcd_delete(struct edpg_etcd *e, const char *key, bool prefix)
{
	json_object *req = json_object_new_object(), *ans = NULL;
	int err;

	add_b64(req, "key", key, strlen(key));
	if (prefix)
		add_prefix_end(req, key);
	err = post(e, "/v3/kv/deleterange", req, &ans);
	json_object_put(req);
	json_object_put(ans);
	return err;
}

int edpg_etcd_txn_cas(struct edpg_etcd *e, const char *key, int64_t expect,
		      const struct edpg_etcd_put *puts, size_t nputs, const char *del_prefix,
		      int64_t *rev)
{
	json_object *req = json_object_new_object(), *ans = NULL, *cmp = json_object_new_object();
	json_object *cmps = json_object_new_array(), *ops = json_object_new_array(), *ok, *hdr;
	int err;

	add_b64(cmp, "key", key, strlen(key));
	json_object_object_add(cmp, "target", json_object_new_string("MOD"));
	json_object_object_add(cmp, "result", json_object_new_string("EQUAL"));
	json_object_object_add(cmp, "mod_revision", json_object_new_int64(expect));
	json_object_array_add(cmps, cmp);
	json_object_object_add(req, "compare", cmps);
	for (size_t i = 0; i < nputs; i++) {
		json_object *op = json_object_new_object(), *p = json_object_new_object();

		add_b64(p, "key", puts[i].key, strlen(puts[i].key));
		add_b64(p, "value", puts[i].val, puts[i].len);
		json_object_object_add(op, "request_put", p);
		json_object_array_add(ops, op);
	}
	if (del_prefix) {
		json_object *op = json_object_new_object(), *d = json_object_new_object();

		add_b64(d, "key", del_prefix, strlen(del_prefix));
		add_prefix_end(d, del_prefix);
		json_object_object_add(op, "request_delete_range", d);
		json_object_array_add(ops, op);
	}
	json_object_object_add(req, "success", ops);
	err = post(e, "/v3/kv/txn", req, &ans);
	json_object_put(req);
	if (err)
		return err;
	/* proto3 JSON leaves out a false "succeeded". */
	if (!json_object_object_get_ex(ans, "succeeded", &ok) || !json_object_get_boolean(ok))
		err = set_err(e, -ESTALE, "%s was changed by someone else meanwhile", key);
	if (rev && json_object_object_get_ex(ans, "header", &hdr))
		*rev = jint(hdr, "revision");
	json_object_put(ans);
	return err;
}

/* ---- leases -------------------------------------------------------------- */

int edpg_etcd_lease_grant(struct edpg_etcd *e, int64_t ttl, int64_t *id)
{
	json_object *req = json_object_new_object(), *ans = NULL;
	int err;

	json_object_object_add(req, "TTL", json_object_new_int64(ttl));
	err = post(e, "/v3/lease/grant", req, &ans);
	json_object_put(req);
	if (err)
		return err;
	*id = jint(ans, "ID");
	json_object_put(ans);
	return *id ? 0 : set_err(e, -EPROTO, "etcd granted no lease");
}

int edpg_etcd_lease_keepalive(struct edpg_etcd *e, int64_t id)
{
	json_object *req = json_object_new_object(), *ans = NULL, *res;
	int err;

	json_object_object_add(req, "ID", json_object_new_int64(id));
	/* A stream of one answer: the gateway ends it with our request. */
	err = post(e, "/v3/lease/keepalive", req, &ans);
	json_object_put(req);
	if (err)
		return err;
	if (!json_object_object_get_ex(ans, "result", &res) || jint(res, "TTL") <= 0)
		err = set_err(e, -ENOENT, "lease %lld expired", (long long)id);
	json_object_put(ans);
	return err;
}

/* ---- watch --------------------------------------------------------------- */

struct watch_ctx {
	struct edpg_etcd *e;
	json_tokener *tok;
	edpg_etcd_watch_fn fn;
	void *ctx;
	volatile int *stop;
	int err;
	bool stopped;
};

/* One message of the stream: {"result": {header, created, events, ...}}. */
static int watch_msg(struct watch_ctx *w, json_object *msg)
{
	json_object *res, *evs, *hdr = NULL;
	enum edpg_etcd_ev types[64];
	struct edpg_kv kvs[64];
	size_t n, k = 0;
	int64_t rev;
	int err = 0;

	if (!json_object_object_get_ex(msg, "result", &res)) {
		json_object *e;

		if (json_object_object_get_ex(msg, "error", &e)) {
			const char *m = json_object_to_json_string(e);

			return set_err(w->e, strstr(m, "ermission") ? -EACCES : -EIO,
				       "etcd ended the watch: %s", m);
		}
		return set_err(w->e, -EPROTO, "a watch message without result");
	}
	if (jint(res, "compact_revision"))
		return set_err(w->e, -ENODATA, "the watch revision was compacted (now %lld)",
			       (long long)jint(res, "compact_revision"));
	json_object_object_get_ex(res, "header", &hdr);
	rev = jint(hdr, "revision");
	json_object_object_get_ex(res, "events", &evs);
	n = evs ? json_object_array_length(evs) : 0;
	if (!n)
		return w->fn(w->ctx, rev, types, kvs, 0) ? 1 : 0;
	/* In batches of 64, each with the revision of the message. */
	for (size_t i = 0; i < n && !err; i++) {
		json_object *ev = json_object_array_get_idx(evs, i), *kv, *t;

		if (!json_object_object_get_ex(ev, "kv", &kv) || kv_parse(kv, &kvs[k]))
			continue;
		types[k] = json_object_object_get_ex(ev, "type", &t) &&
			   !strcmp(json_object_get_string(t), "DELETE") ? EDPG_ETCD_DELETE :
			   EDPG_ETCD_PUT;
		k++;
		if (k == 64 || i == n - 1) {
			err = w->fn(w->ctx, rev, types, kvs, k) ? 1 : 0;
			for (size_t j = 0; j < k; j++)
				kv_free(&kvs[j]);
			k = 0;
		}
	}
	for (size_t j = 0; j < k; j++)
		kv_free(&kvs[j]);
	return err;
}

static size_t watch_data(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct watch_ctx *w = ctx;
	size_t n = size * nmemb, off = 0;

	while (off < n) {
		json_object *msg;
		int r;

		/* Messages are separated by newlines, which json-c skips. */
		msg = json_tokener_parse_ex(w->tok, data + off, (int)(n - off));
		if (json_tokener_get_error(w->tok) == json_tokener_continue)
			break;
		if (!msg) {
			w->err = set_err(w->e, -EPROTO, "the watch stream is not JSON");
			return 0;
		}
		off += json_tokener_get_parse_end(w->tok);
		json_tokener_reset(w->tok);
		r = watch_msg(w, msg);
		json_object_put(msg);
		if (r < 0) {
			w->err = r;
			return 0;
		}
		if (r > 0) {
			w->stopped = true;
			return 0;
		}
	}
	return n;
}

static int watch_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct watch_ctx *w = ctx;

	(void)a; (void)b; (void)c; (void)d;
	if (w->stop && *w->stop) {
		w->stopped = true;
		return 1;
	}
	return 0;
}

int edpg_etcd_watch(struct edpg_etcd *e, const char *key, bool prefix, int64_t start_rev,
		    long ms, edpg_etcd_watch_fn fn, void *ctx, volatile int *stop)
{
	json_object *req = json_object_new_object(), *cr = json_object_new_object();
	struct watch_ctx w = { .e = e, .fn = fn, .ctx = ctx, .stop = stop };
	struct curl_slist *hdrs = NULL;
	char url[512], auth[600];
	CURLcode rc;
	int err;

	add_b64(cr, "key", key, strlen(key));
	if (prefix)
		add_prefix_end(cr, key);
	if (start_rev)
		json_object_object_add(cr, "start_revision", json_object_new_int64(start_rev));
	json_object_object_add(req, "create_request", cr);
	err = authenticate(e);
	if (err)
		goto out;
	w.tok = json_tokener_new();
	if (!w.tok) {
		err = -ENOMEM;
		goto out;
	}
	hdrs = lc.slist_append(hdrs, "Content-Type: application/json");
	if (e->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: %s", e->token);
		hdrs = lc.slist_append(hdrs, auth);
	}
	snprintf(url, sizeof(url), "%s/v3/watch", e->c.urls[e->cur]);
	setup_curl(e, url, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), hdrs, ms);
	lc.easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, watch_data);
	lc.easy_setopt(e->curl, CURLOPT_WRITEDATA, &w);
	lc.easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
	lc.easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, watch_progress);
	lc.easy_setopt(e->curl, CURLOPT_XFERINFODATA, &w);
	rc = lc.easy_perform(e->curl);
	if (w.err)
		err = w.err;
	else if (w.stopped || rc == CURLE_OPERATION_TIMEDOUT)
		err = 0;	/* the watch's time is up: the caller watches again */
	else if (rc == CURLE_OK)
		err = 0;	/* the server ended the stream */
	else {
		if (unreachable(rc))
			e->cur = (e->cur + 1) % e->c.nurls;
		err = set_err(e, unreachable(rc) ? -EHOSTUNREACH : -EIO, "watch at %s: %s", url,
			      lc.easy_strerror(rc));
	}
	/* A token that expired mid-watch: the next call authenticates. */
	if (err == -EACCES)
		e->token[0] = '\0';
out:
	if (w.tok)
		json_tokener_free(w.tok);
	lc.slist_free_all(hdrs);
	json_object_put(req);
	return err;
}
