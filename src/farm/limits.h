/*
 * Failure policies, as plain arithmetic: halt conditions (GNU parallel's
 * --halt), time limits as seconds or a percentage of the median run time,
 * deadlines, and the run-time statistics they rest on. No MPI, no I/O.
 */
#ifndef TF_POLICY_H
#define TF_POLICY_H

#include <stdint.h>

/**
 * A log-scale histogram of run times: 1 % wide buckets from 1 us to
 * about 14 days (longer times count in the top one), so quantiles are
 * within 1 % whatever the scale, in constant memory.
 */
#define TF_RUNTIME_BUCKETS 2800
struct tf_runtimes {
	uint32_t bucket[TF_RUNTIME_BUCKETS];
	uint64_t n;
};

void tf_runtimes_init(struct tf_runtimes *rt);
void tf_runtimes_add(struct tf_runtimes *rt, double seconds);
/** The q-quantile (0 < q <= 1) in seconds, within 1 %; 0 if empty. */
double tf_runtimes_quantile(const struct tf_runtimes *rt, double q);

/** When a halt condition stops the run. */
enum tf_halt_when {
	TF_HALT_NEVER = 0,
	TF_HALT_SOON = 1, /* start nothing new, let running tasks finish */
	TF_HALT_NOW = 2   /* also stop running tasks */
};

struct tf_halt {
	int when;    /* enum tf_halt_when */
	int success; /* 1: count successes; 0: count failures */
	int percent; /* value is a percentage of all tasks */
	double value;
};

/**
 * Parses "never", or "now|soon,fail|success=N" or "...=P%" (0 < P <=
 * 100; N >= 1). Returns 0 or TF_EINVAL.
 */
int tf_halt_parse(const char *s, struct tf_halt *h);

/**
 * Whether the run must halt after ok successes and failed failures of
 * total tasks (total 0: unknown, then percentages count finished tasks).
 * Returns an enum tf_halt_when.
 */
int tf_halt_check(const struct tf_halt *h, uint64_t ok, uint64_t failed,
		  uint64_t total);

/** A task time limit: fixed seconds, or a percentage of the median. */
struct tf_timeout {
	double seconds; /* 0: none */
	double percent; /* 0: none */
};

/** Parses "SECONDS" (with s/m/h/d) or "P%" (P > 0). 0 or TF_EINVAL. */
int tf_timeout_parse(const char *s, struct tf_timeout *t);

/** Successful tasks needed before a percentage limit applies. */
#define TF_TIMEOUT_MIN_SAMPLES 3

/**
 * The limit for a task starting now, in seconds; 0 for none (no limit
 * set, or too few finished tasks to take a percentage of).
 */
double tf_timeout_for(const struct tf_timeout *t, const struct tf_runtimes *rt);

/**
 * Parses a deadline: "+DURATION" from now, "HH:MM[:SS]" (today, or
 * tomorrow if that time has passed), "YYYY-MM-DDTHH:MM[:SS]" (local
 * time) or "@EPOCH". now is the wall clock (seconds since the epoch).
 * Returns 0 with *deadline set, or TF_EINVAL.
 */
int tf_deadline_parse(const char *s, double now, double *deadline);

/**
 * Whether a task started at now is expected to finish by deadline, going
 * by the run times seen so far (their 90th percentile; with none seen
 * yet, any task may start before the deadline).
 */
int tf_deadline_allows(double now, double deadline,
		       const struct tf_runtimes *rt);

#endif
