/* Unit-test helpers: a scratch directory per test, files in it, a silent zonec report. */
#ifndef PHAROS_TEST_UNIT_H
#define PHAROS_TEST_UNIT_H

#include <stddef.h>

#include "zonec.h"

/* The running test's scratch directory, "/tmp/pharos-<program>-XXXXXX" once made. */
extern char unit_dir[64];

/* For a TestSuite's .init: make unit_dir, a new empty directory (asserts it could). */
void unit_dir_make(void);

/* For a TestSuite's .fini: remove unit_dir and everything in it (asserts it could). */
void unit_dir_remove(void);

/* Write text to unit_dir/name (asserts it could); path (size bytes) gets its path. Returns path. */
char *unit_file(const char *name, const char *text, char *path, size_t size);

/* A zonec_report_fn that drops every finding: for tests that check results, not messages. */
void unit_quiet(void *ctx, enum zonec_severity sev, const char *file, int line,
		const char *what);

#endif
