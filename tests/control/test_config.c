/* Tests of control/config.c: the config file parser and its line-numbered errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "pharos/err.h"

static char err[CONFIG_ERR_MAX];

static struct config *parse_ok(const char *text, const char *base)
{
	struct config *c = NULL;
	int rc = config_parse(text, strlen(text), "pharos.conf", base, &c, err, sizeof(err));

	cr_assert_eq(rc, 0, "parse failed: %s", err);
	cr_assert_not_null(c);
	return c;
}

/* Parse text that must be refused with exactly this message. */
static void parse_bad(const char *text, const char *want)
{
	struct config *c = NULL;
	int rc = config_parse(text, strlen(text), "pharos.conf", NULL, &c, err, sizeof(err));

	cr_assert_eq(rc, PHAROS_ECONFIG, "rc %d for:\n%s", rc, text);
	cr_assert_null(c);
	cr_assert_str_eq(err, want);
}

Test(config, full_file)
{
	struct config *c = parse_ok(
		"# Pharos PoP config\n"
		"\n"
		"state-dir /var/lib/pharos   # images live here\n"
		"control-socket /run/pharos/control.sock\n"
		"control-socket-readonly /run/pharos/control-ro.sock\n"
		"dataplane-socket\t/run/pharos/dp.sock\n"
		"zone example.com file=/etc/pharos/example.com.zone\n"
		"  zone Example.NET. file=/etc/pharos/example.net.zone\n", NULL);

	cr_assert_str_eq(c->state_dir, "/var/lib/pharos");
	cr_assert_str_eq(c->control_socket, "/run/pharos/control.sock");
	cr_assert_str_eq(c->control_socket_ro, "/run/pharos/control-ro.sock");
	cr_assert_str_eq(c->dataplane_socket, "/run/pharos/dp.sock");
	cr_assert_eq(c->zone_count, 2);
	cr_assert_str_eq(c->zones[0].origin, "example.com.");
	cr_assert_str_eq(c->zones[0].file, "/etc/pharos/example.com.zone");
	cr_assert_eq(c->zones[0].line, 7);
	cr_assert_str_eq(c->zones[1].origin, "example.net.");
	cr_assert_eq(c->zones[1].line, 8);
	cr_assert_not_null(config_find_zone(c, "example.net."));
	cr_assert_null(config_find_zone(c, "example.org."));
	config_free(c);
}

Test(config, defaults_and_empty)
{
	struct config *c = parse_ok("", NULL);

	cr_assert_str_eq(c->state_dir, CONFIG_DEFAULT_STATE_DIR);
	cr_assert_str_eq(c->control_socket, CONFIG_DEFAULT_CONTROL);
	cr_assert_str_eq(c->dataplane_socket, CONFIG_DEFAULT_DATAPLANE);
	cr_assert_null(c->control_socket_ro);
	cr_assert_eq(c->zone_count, 0);
	config_free(c);
}

Test(config, no_final_newline_and_crlf)
{
	struct config *c = parse_ok("state-dir /s\r\nzone a.example file=/z", NULL);

	cr_assert_str_eq(c->state_dir, "/s");
	cr_assert_eq(c->zone_count, 1);
	cr_assert_str_eq(c->zones[0].file, "/z");
	config_free(c);
}

Test(config, root_zone)
{
	struct config *c = parse_ok("zone . file=/root.zone\n", NULL);

	cr_assert_str_eq(c->zones[0].origin, ".");
	config_free(c);
}

Test(config, relative_paths_join_base)
{
	struct config *c = parse_ok("state-dir state\nzone example.com file=zones/ex.zone\n"
				    "control-socket /abs.sock\n", "/etc/pharos");

	cr_assert_str_eq(c->state_dir, "/etc/pharos/state");
	cr_assert_str_eq(c->zones[0].file, "/etc/pharos/zones/ex.zone");
	cr_assert_str_eq(c->control_socket, "/abs.sock");
	config_free(c);
}

Test(config, many_zones)
{
	char text[64 * 100] = "", line[64];

	for (int i = 0; i < 100; i++) {
		snprintf(line, sizeof(line), "zone z%d.example file=/z/%d\n", i, i);
		strcat(text, line);
	}
	struct config *c = parse_ok(text, NULL);

	cr_assert_eq(c->zone_count, 100);
	cr_assert_str_eq(c->zones[99].origin, "z99.example.");
	cr_assert_eq(c->zones[99].line, 100);
	config_free(c);
}

Test(config, unknown_key_names_line)
{
	parse_bad("# c\nstate-dir /s\n\n\n\n\nfoo bar\n", "pharos.conf:7: unknown key 'foo'");
}

Test(config, missing_value)
{
	parse_bad("state-dir\n", "pharos.conf:1: missing value for 'state-dir'");
	parse_bad("\ndataplane-socket   # nothing\n",
		  "pharos.conf:2: missing value for 'dataplane-socket'");
	parse_bad("zone\n",
		  "pharos.conf:1: missing value for 'zone' (expected: zone ORIGIN file=PATH)");
}

Test(config, extra_words)
{
	parse_bad("state-dir /a /b\n",
		  "pharos.conf:1: unexpected '/b' after the value of 'state-dir'");
}

Test(config, duplicate_key)
{
	parse_bad("state-dir /a\nstate-dir /b\n",
		  "pharos.conf:2: duplicate key 'state-dir' (first set on line 1)");
}

Test(config, duplicate_zone_any_case_or_dot)
{
	parse_bad("zone example.com file=/a\nzone EXAMPLE.com. file=/b\n",
		  "pharos.conf:2: duplicate zone 'example.com.' (first on line 1)");
}

Test(config, zone_attributes)
{
	parse_bad("zone example.com\n", "pharos.conf:1: zone example.com.: missing file=PATH");
	parse_bad("zone example.com file=\n",
		  "pharos.conf:1: zone example.com.: missing value for 'file='");
	parse_bad("zone example.com file=/a file=/b\n",
		  "pharos.conf:1: zone example.com.: duplicate attribute 'file'");
	parse_bad("zone example.com file=/a master=1.2.3.4\n",
		  "pharos.conf:1: zone example.com.: unknown attribute 'master=1.2.3.4'");
}

Test(config, bad_origins)
{
	parse_bad("zone a..b file=/z\n", "pharos.conf:1: invalid zone origin 'a..b'");
	parse_bad("zone a/b file=/z\n", "pharos.conf:1: invalid zone origin 'a/b'");
	parse_bad("zone .a file=/z\n", "pharos.conf:1: invalid zone origin '.a'");
	parse_bad("zone 0123456789012345678901234567890123456789012345678901234567890123.x "
		  "file=/z\n",
		  "pharos.conf:1: invalid zone origin "
		  "'0123456789012345678901234567890123456789012345678901234567890123.x'");
}

Test(config, origin_normalize)
{
	char out[CONFIG_ORIGIN_MAX];

	cr_assert_eq(config_origin_normalize("Ex-1_a.COM", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "ex-1_a.com.");
	cr_assert_eq(config_origin_normalize("com.", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "com.");
	cr_assert_eq(config_origin_normalize("", out, sizeof(out)), PHAROS_EINVAL);
	cr_assert_eq(config_origin_normalize("a b", out, sizeof(out)), PHAROS_EINVAL);
	cr_assert_eq(config_origin_normalize("a..", out, sizeof(out)), PHAROS_EINVAL);
	cr_assert_eq(config_origin_normalize("a.", out, 2), PHAROS_EINVAL);
}

Test(config, long_line_and_nul)
{
	char *text = malloc(5000);

	memset(text, 'a', 4999);
	text[4999] = '\0';
	parse_bad(text, "pharos.conf:1: line too long (more than 4096 bytes)");
	free(text);

	struct config *c = NULL;
	static const char nul[] = "state-dir /s\nzone\0x\n";

	cr_assert_eq(config_parse(nul, sizeof(nul) - 1, "n.conf", NULL, &c, err, sizeof(err)),
		     PHAROS_ECONFIG);
	cr_assert_str_eq(err, "n.conf:2: NUL byte in line");
}

Test(config, load_file_resolves_relative_to_its_dir)
{
	char dir[] = "/tmp/pharos-test-config.XXXXXX", path[256], rel[256], cwd[4096];
	struct config *c = NULL;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p.conf", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("state-dir st\nzone example.com file=ex.zone\n", f);
	fclose(f);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(dir), 0);
	snprintf(rel, sizeof(rel), "p.conf");
	cr_assert_eq(config_load(rel, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(chdir(cwd), 0);
	snprintf(path, sizeof(path), "%s/st", dir);
	cr_assert_str_eq(c->state_dir, path);
	snprintf(path, sizeof(path), "%s/ex.zone", dir);
	cr_assert_str_eq(c->zones[0].file, path);
	cr_assert_str_eq(c->path, "p.conf");
	config_free(c);
	snprintf(path, sizeof(path), "%s/p.conf", dir);
	unlink(path);
	rmdir(dir);
}

Test(config, load_file_errors)
{
	struct config *c = NULL;
	char dir[] = "/tmp/pharos-test-config.XXXXXX", path[256];
	FILE *f;

	cr_assert_eq(config_load("/nonexistent/pharos.conf", &c, err, sizeof(err)),
		     PHAROS_ECONFIG);
	cr_assert_str_eq(err, "/nonexistent/pharos.conf: cannot open: No such file or directory");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("state-dir /s\nzone a.example file=/z\nzone a.example file=/y\n", f);
	fclose(f);
	cr_assert_eq(config_load(path, &c, err, sizeof(err)), PHAROS_ECONFIG);
	char want[512];

	snprintf(want, sizeof(want), "%s:3: duplicate zone 'a.example.' (first on line 2)", path);
	cr_assert_str_eq(err, want);
	cr_assert_null(c);
	unlink(path);
	rmdir(dir);
}
