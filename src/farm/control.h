/*
 * The master's word to every worker at once: one CONTROL message (a code
 * and its argument, wire.h) to each rank but 0. The master loop sends its
 * drains and its final STOP this way, and so does a run that ends before
 * its loop starts (run.c).
 */
#ifndef TF_CONTROL_H
#define TF_CONTROL_H

#include <stdint.h>

#include "core/comm.h"
#include "core/util.h"

/**
 * Sends the packed message out (its to consume, as tf_comm_send() does)
 * to rank. Returns 0, also when it chose not to send, or a negative code.
 */
typedef int tf_control_send_fn(void *ctx, int rank, struct tf_strbuf *out);

/**
 * Sends CONTROL code(arg) to every rank from 1 to comm->size - 1, through
 * send(ctx, ...) when it is not NULL, else straight by tf_comm_send().
 * A failed send does not keep the others from theirs. Returns 0, or the
 * first failure's negative code.
 */
int tf__control_all(struct tf_comm *comm, uint32_t code, double arg,
		    tf_control_send_fn *send, void *ctx);

#endif
