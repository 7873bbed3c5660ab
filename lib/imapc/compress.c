/* SPDX-License-Identifier: MIT */
/* COMPRESS=DEFLATE (RFC 4978) for an IMAP session: the command, and the
 * switch of the connection (lib/net) to raw deflate once the server said
 * OK.  A server that refuses (NO, BAD) leaves the session as it was:
 * compression only saves bandwidth, it is never worth failing a login.
 * Also the session's byte counters, before and after compression. */
#include <config.h>
#include "imapc_p.h"

#include <string.h>

int imapc_compress(struct imapc *c, struct mf_error *err)
{
	if (mf_conn_is_compressed(c->conn))
		return MF_OK;
	/* RFC 4978 §3: nothing may be in flight: the server starts its
	 * compressed stream right after the OK, the client right after
	 * reading it. */
	int st = imapc_drain(c, err);
	if (st != MF_OK)
		return st;
	struct imapc_result res;
	st = imapc_run(c, imapc_cmd_new("COMPRESS DEFLATE"), NULL, NULL, &res, err);
	if (st != MF_OK)
		return st;
	if (res.status != IMAPC_OK) {
		imapc_logf(c, MF_LOG_INFO,
			   "%s: server refused COMPRESS DEFLATE (%s%s%s%s),"
			   " going on uncompressed",
			   c->label, res.code[0] ? "[" : "", res.code, res.code[0] ? "] " : "",
			   res.text);
		return MF_OK;
	}
	st = mf_conn_start_compress(c->conn, err);
	if (st != MF_OK)
		return imapc_fail(c, st, err);
	imapc_logf(c, MF_LOG_INFO, "%s: COMPRESS=DEFLATE active", c->label);
	return MF_OK;
}

bool imapc_is_compressed(const struct imapc *c)
{
	return c->conn != NULL && mf_conn_is_compressed(c->conn);
}

void imapc_account_io_add(struct imapc *c)
{
	if (c->conn == NULL || c->io_totals == NULL)
		return;
	struct mf_conn_stats s;
	mf_conn_get_stats(c->conn, &s);
	c->io_totals->plain_in += s.plain_in;
	c->io_totals->plain_out += s.plain_out;
	c->io_totals->wire_in += s.wire_in;
	c->io_totals->wire_out += s.wire_out;
	if (c->io_compressed != NULL && mf_conn_is_compressed(c->conn))
		*c->io_compressed = true;
	c->io_totals = NULL;
}

void imapc_io_stats(const struct imapc *c, struct mf_conn_stats *st_r)
{
	memset(st_r, 0, sizeof(*st_r));
	if (c != NULL && c->conn != NULL)
		mf_conn_get_stats(c->conn, st_r);
}
