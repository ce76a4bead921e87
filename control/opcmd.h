/* Operator commands: parse one request line, run it against pharos-control, format the reply. */
#ifndef PHAROS_OPCMD_H
#define PHAROS_OPCMD_H

#include <stddef.h>

#include "ctl.h"

/* How a request ended; the word starts the reply header (doc/operator-socket.md). */
enum opcmd_class {
	OPCMD_OK = 0,		/* "ok": done */
	OPCMD_FAIL = 1,		/* "fail": ran and failed (reload refused, image refused...) */
	OPCMD_ERROR = 2,	/* "error": bad request, or not allowed on this socket */
};

/*
 * Run one request line ("status", "reload json", "load example.com. /path.img").
 * admin: 0 on the read-only socket, where only status, zones, stats and help run.
 * On return *body is a malloc'd reply body of *len bytes (text, or JSON with "json");
 * the caller frees it. Returns an enum opcmd_class, or PHAROS_ENOMEM.
 */
int opcmd_run(struct ctl *c, int admin, const char *line, char **body, size_t *len);

/* "ok", "fail", "error". */
const char *opcmd_class_name(int cls);

#endif
