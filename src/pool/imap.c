/*
 * The ordered streaming map (Pool.imap): inputs pulled from the caller's
 * producer as room frees up, results handed back in input order as soon
 * as the oldest is done, with at most a window of tasks held at once, so
 * that memory stays bounded however many inputs the producer makes. It
 * is built on the futures of jobs.c, which go out in chunks when many
 * are queued, so it costs what a map of the same tasks does.
 */
#include "config.h"

#include <stdlib.h>

#include "core/ring.h"
#include "pool/pool.h"

/* Tasks held at once when the caller gives no window. */
#define IMAP_WINDOW_DEFAULT 4096

/* Calls the producer with the pool closed to calls from it, as a result
 * callback is. */
static int produce(struct tf_pool *p, tf_input_fn next, void *arg,
		   size_t index, const void **in, size_t *len)
{
	int rc;

	p->in_callback = 1;
	rc = next(arg, index, in, len);
	p->in_callback = 0;
	return rc;
}

/* Hands done future f, task index, to cb. Returns cb's value. */
static int hand_back(struct tf_pool *p, struct tf_future *f, size_t index,
		     tf_result_fn cb, void *cb_arg, size_t *failed)
{
	size_t len;
	const void *res = tf_future_result(f, &len);
	int status = tf_future_status(f), rc;

	if (status)
		++*failed;
	p->in_callback = 1;
	rc = cb(cb_arg, index, status, res, len, tf_future_error(f));
	p->in_callback = 0;
	return rc;
}

/* The oldest future held. */
static struct tf_future *oldest(const struct tf_ring *held)
{
	return *(struct tf_future **)tf_ring_at(held, 0);
}

long tf_pool_imap(struct tf_pool *p, const char *fn, tf_input_fn next,
		  void *next_arg, tf_result_fn cb, void *cb_arg, size_t window,
		  const struct tf_map_opts *mo)
{
	/* The futures held, oldest first: it grows as the window fills, so
	 * a huge window costs only what is held. */
	struct tf_ring held;
	size_t head = 0, failed = 0;
	long ret = 0;
	int ended = 0;

	if (!p || !fn || !next || !cb)
		return TF_EINVAL;
	if (mo && (mo->status || mo->errors || mo->chunk || mo->timeout ||
		   !tf__pool_reserved_clear(mo->reserved, sizeof(mo->reserved))))
		return TF_EINVAL;
	if (!p->started || p->comm.rank != 0 || p->in_callback || p->in_task)
		return TF_ESTATE;
	if (p->failed)
		return p->failed;
	if (tf_registry_find(&p->reg, fn) < 0) {
		tf__pool_seterr(p, "no task function is registered as '%s'",
				fn);
		return TF_EREGISTER;
	}
	if (window == 0)
		window = IMAP_WINDOW_DEFAULT;
	tf_ring_init(&held, sizeof(struct tf_future *), 0);
	while (ret == 0) {
		/* Fill the window, then hand back what is done in order,
		 * waiting for the oldest only when nothing else can go on. */
		while (!ended && tf_ring_len(&held) < window) {
			const void *in = NULL;
			size_t len = 0, index = head + tf_ring_len(&held);
			struct tf_future *f;
			int rc = produce(p, next, next_arg, index, &in, &len);

			if (rc == 0) {
				ended = 1;
				break;
			}
			if (rc < 0) {
				ret = rc;
				break;
			}
			if (rc != 1) {
				tf__pool_seterr(p,
						"the producer returned %d for "
						"input %zu (1: an input, 0: the "
						"end, negative: stop)",
						rc, index);
				ret = TF_EINVAL;
				break;
			}
			rc = tf_pool_submit(p, fn, in, len, &f);
			if (rc) {
				ret = rc;
				break;
			}
			*(struct tf_future **)tf_ring_push_back(&held) = f;
		}
		if (ret || !tf_ring_len(&held))
			break;
		ret = tf_future_wait(oldest(&held));
		while (ret == 0 && tf_ring_len(&held) && oldest(&held)->done) {
			struct tf_future *f = oldest(&held);

			tf_ring_pop_front(&held);
			ret = hand_back(p, f, head, cb, cb_arg, &failed);
			tf_future_free(f);
			head++;
		}
	}
	/* Stopped early: queued tasks are cancelled, running ones detached. */
	for (; tf_ring_len(&held); tf_ring_pop_front(&held))
		tf_future_free(oldest(&held));
	tf_ring_release(&held);
	return ret ? ret : (long)failed;
}
