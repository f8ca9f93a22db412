/*
 * The back-off state of an idle loop, around tf_backoff() (core/util.c)
 * whose curve it keeps: the loops once each kept a wait and the time of
 * their last activity by hand.
 */
#include "config.h"

#include "core/idle.h"

#include "core/util.h"

void tf_idle_init(struct tf_idle *w, double min, double max, double now)
{
	w->min = min;
	w->max = max;
	w->wait = 0;
	w->busy_at = now;
}

void tf_idle_busy(struct tf_idle *w, double now)
{
	w->wait = 0;
	w->busy_at = now;
}

double tf_idle_next(struct tf_idle *w, int did, double now)
{
	if (did) {
		tf_idle_busy(w, now);
		return 0;
	}
	w->wait = tf_backoff(w->wait, now - w->busy_at, w->min, w->max);
	return w->wait;
}

double tf_idle_hold(struct tf_idle *w, double seconds)
{
	w->wait = seconds;
	return seconds;
}
