/*
 * The back-off of a loop that polls while nothing happens: after a turn
 * that did something the next wait is 0; after an idle turn it is
 * tf_backoff()'s next step (doubling from min to max, up to 10 x max
 * once the loop has been idle long), so a busy loop reacts at once and
 * a quiet one costs almost no CPU. The loop passes the clock in; nothing
 * here sleeps or calls MPI.
 */
#ifndef TF_IDLE_H
#define TF_IDLE_H

/** The state of one idle loop. Read the fields, never write them. */
struct tf_idle {
	double min, max; /* tf_backoff()'s bounds, seconds */
	double wait;     /* the last wait handed out; 0 after activity */
	double busy_at;  /* when the loop last did something */
};

/** Prepares w with tf_backoff()'s bounds; now counts as activity. */
void tf_idle_init(struct tf_idle *w, double min, double max, double now);

/** Records activity at now: the next wait is 0, and the back-off starts
 * again from min. */
void tf_idle_busy(struct tf_idle *w, double now);

/**
 * One turn of the loop: if did, records activity at now and returns 0;
 * else returns the next wait (seconds, > 0) and remembers it, so that
 * successive idle turns double it.
 */
double tf_idle_next(struct tf_idle *w, int did, double now);

/**
 * Overrides the next wait with seconds (a loop that knows it may sleep
 * that long, or must look back that soon) and returns it; the back-off
 * of later idle turns continues from it. Not activity: busy_at stays.
 */
double tf_idle_hold(struct tf_idle *w, double seconds);

#endif
