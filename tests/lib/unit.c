/* Criterion unit-test helpers: scratch directory and files, silent zonec report. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <criterion/criterion.h>

char unit_dir[64];

void unit_dir_make(void)
{
	snprintf(unit_dir, sizeof(unit_dir), "/tmp/pharos-%.32s-XXXXXX",
		 program_invocation_short_name);
	cr_assert_not_null(mkdtemp(unit_dir), "mkdtemp %s", unit_dir);
}

void unit_dir_remove(void)
{
	char cmd[sizeof(unit_dir) + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", unit_dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

char *unit_file(const char *name, const char *text, char *path, size_t size)
{
	FILE *f;

	cr_assert_lt(snprintf(path, size, "%s/%s", unit_dir, name), (int)size, "%s: too long", name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_geq(fputs(text, f), 0, "cannot write %s", path);
	cr_assert_eq(fclose(f), 0, "cannot write %s", path);
	return path;
}

void unit_quiet(void *ctx, enum zonec_severity sev, const char *file, int line,
		const char *what)
{
	(void)ctx, (void)sev, (void)file, (void)line, (void)what;
}
