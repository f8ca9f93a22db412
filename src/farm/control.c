/*
 * One CONTROL message to every worker rank (control.h).
 */
#include "config.h"

#include "farm/control.h"

#include "farm/wire.h"

int tf__control_all(struct tf_comm *comm, uint32_t code, double arg,
		    tf_control_send_fn *send, void *ctx)
{
	int r, ret, first = 0;

	for (r = 1; r < comm->size; r++) {
		struct tf_strbuf out = TF_STRBUF_INIT;

		tf_wire_pack_control(&out, code, arg);
		ret = send ? send(ctx, r, &out)
			   : tf_comm_send(comm, r, TF_TAG_CONTROL, &out);
		if (ret < 0 && !first)
			first = ret;
	}
	return first;
}
