/* Config unit-test helpers: text that config_parse must accept, or refuse with one message. */
#include "conftest.h"

#include <string.h>
#include <criterion/criterion.h>

#include "pharos/err.h"

struct config *conftest_ok(const char *text, const char *base)
{
	char err[CONFIG_ERR_MAX];
	struct config *c = NULL;
	int rc = config_parse(text, strlen(text), "pharos.conf", base, &c, err, sizeof(err));

	cr_assert_eq(rc, 0, "parse failed: %s", err);
	cr_assert_not_null(c);
	return c;
}

void conftest_bad(const char *text, const char *want)
{
	char err[CONFIG_ERR_MAX];
	struct config *c = NULL;
	int rc = config_parse(text, strlen(text), "pharos.conf", NULL, &c, err, sizeof(err));

	cr_assert_eq(rc, PHAROS_ECONFIG, "rc %d for:\n%s", rc, text);
	cr_assert_null(c);
	cr_assert_str_eq(err, want);
}
