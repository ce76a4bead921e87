/* Shared by the config unit tests: parse config text that must be accepted or refused. */
#ifndef PHAROS_TEST_CONFTEST_H
#define PHAROS_TEST_CONFTEST_H

#include "config.h"

/*
 * Parse text (as file "pharos.conf") that must be accepted; base: directory relative paths
 * resolve against (NULL = kept as written). Returns the config: the caller frees it.
 */
struct config *conftest_ok(const char *text, const char *base);

/* Parse text that must be refused with exactly the message want ("pharos.conf:LINE: ..."). */
void conftest_bad(const char *text, const char *want);

#endif
