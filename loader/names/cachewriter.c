// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cachewriter.c - the address cache's writer thread (see cachewriter.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cachewriter.h"
#include "log.h"
#include "state.h"

struct edpg_cache_writer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf;
	size_t len;
	bool stop;
	const char *path;
};

static void *writer_main(void *arg)
{
	struct edpg_cache_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		char *buf;
		size_t len;
		int err;

		while (!w->buf && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->buf)
			break;
		buf = w->buf;
		len = w->len;
		w->buf = NULL;
		pthread_mutex_unlock(&w->mu);
		err = edpg_write_atomic(w->path, buf, len);
		if (err)
			edpg_warn("cannot write the address cache %s: %s", w->path, strerror(-err));
		free(buf);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int edpg_cache_writer_start(struct edpg_cache_writer **out, const char *path)
{
	struct edpg_cache_writer *w;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->path = path;
	err = pthread_create(&w->th, NULL, writer_main, w);
	if (err) {
		free(w);
		return -err;
	}
	*out = w;
	return 0;
}

void edpg_cache_writer_put(struct edpg_cache_writer *w, char *buf, size_t len)
{
	pthread_mutex_lock(&w->mu);
	free(w->buf);
	w->buf = buf;
	w->len = len;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void edpg_cache_writer_stop(struct edpg_cache_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->buf);
	free(w);
}
