/* Tests of control/config.c: the config file parser and its line-numbered errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "conftest.h"
#include "pharos/err.h"
#include "unit.h"

static char err[CONFIG_ERR_MAX];

TestSuite(config, .init = unit_dir_make, .fini = unit_dir_remove);

Test(config, full_file)
{
	struct config *c = conftest_ok(
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
	struct config *c = conftest_ok("", NULL);

	cr_assert_str_eq(c->state_dir, CONFIG_DEFAULT_STATE_DIR);
	cr_assert_str_eq(c->control_socket, CONFIG_DEFAULT_CONTROL);
	cr_assert_str_eq(c->dataplane_socket, CONFIG_DEFAULT_DATAPLANE);
	cr_assert_null(c->control_socket_ro);
	cr_assert_eq(c->zone_count, 0);
	config_free(c);
}

Test(config, no_final_newline_and_crlf)
{
	struct config *c = conftest_ok("state-dir /s\r\nzone a.example file=/z", NULL);

	cr_assert_str_eq(c->state_dir, "/s");
	cr_assert_eq(c->zone_count, 1);
	cr_assert_str_eq(c->zones[0].file, "/z");
	config_free(c);
}

Test(config, root_zone)
{
	struct config *c = conftest_ok("zone . file=/root.zone\n", NULL);

	cr_assert_str_eq(c->zones[0].origin, ".");
	config_free(c);
}

Test(config, relative_paths_join_base)
{
	struct config *c = conftest_ok("state-dir state\nzone example.com file=zones/ex.zone\n"
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
	struct config *c = conftest_ok(text, NULL);

	cr_assert_eq(c->zone_count, 100);
	cr_assert_str_eq(c->zones[99].origin, "z99.example.");
	cr_assert_eq(c->zones[99].line, 100);
	config_free(c);
}

Test(config, unknown_key_names_line)
{
	conftest_bad("# c\nstate-dir /s\n\n\n\n\nfoo bar\n", "pharos.conf:7: unknown key 'foo'");
}

Test(config, missing_value)
{
	conftest_bad("state-dir\n", "pharos.conf:1: missing value for 'state-dir'");
	conftest_bad("\ndataplane-socket   # nothing\n",
		     "pharos.conf:2: missing value for 'dataplane-socket'");
	conftest_bad("zone\n",
		     "pharos.conf:1: missing value for 'zone' (expected: zone ORIGIN file=PATH)");
}

Test(config, extra_words)
{
	conftest_bad("state-dir /a /b\n",
		     "pharos.conf:1: unexpected '/b' after the value of 'state-dir'");
}

Test(config, duplicate_key)
{
	conftest_bad("state-dir /a\nstate-dir /b\n",
		     "pharos.conf:2: duplicate key 'state-dir' (first set on line 1)");
}

Test(config, duplicate_zone_any_case_or_dot)
{
	conftest_bad("zone example.com file=/a\nzone EXAMPLE.com. file=/b\n",
		     "pharos.conf:2: duplicate zone 'example.com.' (first on line 1)");
}

Test(config, zone_attributes)
{
	conftest_bad("zone example.com\n",
		     "pharos.conf:1: zone example.com.: missing file=PATH or primary=ADDR");
	conftest_bad("zone example.com file=\n",
		     "pharos.conf:1: zone example.com.: missing value for 'file='");
	conftest_bad("zone example.com file=/a file=/b\n",
		     "pharos.conf:1: zone example.com.: duplicate attribute 'file'");
	conftest_bad("zone example.com file=/a master=1.2.3.4\n",
		     "pharos.conf:1: zone example.com.: unknown attribute 'master=1.2.3.4'");
}

Test(config, bad_origins)
{
	conftest_bad("zone a..b file=/z\n", "pharos.conf:1: invalid zone origin 'a..b'");
	conftest_bad("zone a/b file=/z\n", "pharos.conf:1: invalid zone origin 'a/b'");
	conftest_bad("zone .a file=/z\n", "pharos.conf:1: invalid zone origin '.a'");
	conftest_bad("zone 0123456789012345678901234567890123456789012345678901234567890123.x "
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
	conftest_bad(text, "pharos.conf:1: line too long (more than 4096 bytes)");
	free(text);

	struct config *c = NULL;
	static const char nul[] = "state-dir /s\nzone\0x\n";

	cr_assert_eq(config_parse(nul, sizeof(nul) - 1, "n.conf", NULL, &c, err, sizeof(err)),
		     PHAROS_ECONFIG);
	cr_assert_str_eq(err, "n.conf:2: NUL byte in line");
}

Test(config, load_file_resolves_relative_to_its_dir)
{
	char path[256], rel[256], cwd[4096];
	struct config *c = NULL;

	unit_file("p.conf", "state-dir st\nzone example.com file=ex.zone\n", path, sizeof(path));
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(unit_dir), 0);
	snprintf(rel, sizeof(rel), "p.conf");
	cr_assert_eq(config_load(rel, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(chdir(cwd), 0);
	snprintf(path, sizeof(path), "%s/st", unit_dir);
	cr_assert_str_eq(c->state_dir, path);
	snprintf(path, sizeof(path), "%s/ex.zone", unit_dir);
	cr_assert_str_eq(c->zones[0].file, path);
	cr_assert_str_eq(c->path, "p.conf");
	config_free(c);
}

Test(config, load_file_errors)
{
	struct config *c = NULL;
	char path[256];

	cr_assert_eq(config_load("/nonexistent/pharos.conf", &c, err, sizeof(err)),
		     PHAROS_ECONFIG);
	cr_assert_str_eq(err, "/nonexistent/pharos.conf: cannot open: No such file or directory");
	unit_file("bad.conf", "state-dir /s\nzone a.example file=/z\nzone a.example file=/y\n",
		  path, sizeof(path));
	cr_assert_eq(config_load(path, &c, err, sizeof(err)), PHAROS_ECONFIG);
	char want[512];

	snprintf(want, sizeof(want), "%s:3: duplicate zone 'a.example.' (first on line 2)", path);
	cr_assert_str_eq(err, want);
	cr_assert_null(c);
}

/* ---- secondary zones and TSIG keys ---- */

#define KEY_B64 "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="

Test(config, secondary_zone_defaults)
{
	struct config *c = conftest_ok("zone example.com primary=192.0.2.1\n", NULL);
	const struct config_zone *z = &c->zones[0];

	cr_assert(config_zone_secondary(z));
	cr_assert_null(z->file);
	cr_assert_eq(z->primary_count, 1);
	cr_assert_str_eq(z->primaries[0].text, "192.0.2.1#53");
	cr_assert_eq(z->primaries[0].key, -1);
	cr_assert_eq(z->notify_count, 1, "default NOTIFY source: the primary");
	cr_assert_str_eq(z->notify_from[0].text, "192.0.2.1/32");
	cr_assert_eq(z->refresh.min, CONFIG_REFRESH_MIN);
	cr_assert_eq(z->refresh.max, CONFIG_REFRESH_MAX);
	cr_assert_eq(z->retry.min, CONFIG_RETRY_MIN);
	cr_assert_eq(z->expire.max, CONFIG_EXPIRE_MAX);
	cr_assert_eq(z->max_size, CONFIG_MAX_SIZE);
	cr_assert_eq(z->timeout, CONFIG_XFR_TIMEOUT);
	config_free(c);
}

Test(config, secondary_zone_full)
{
	struct config *c = conftest_ok(
		"key xfr-key algorithm=hmac-sha256 secret=" KEY_B64 "\n"
		"key Other.Key. algorithm=hmac-sha512 secret=" KEY_B64 "\n"
		"zone example.com primary=192.0.2.1#5300 primary=2001:db8::1@53,key=other.key "
		"key=xfr-key notify-from=198.18.0.0/15 notify-from=2001:db8::/32,key=other.key "
		"refresh=1..2h retry=5 expire=3s.. max-size=64m timeout=2\n", NULL);
	const struct config_zone *z = &c->zones[0];

	cr_assert_eq(c->key_count, 2);
	cr_assert_str_eq(c->keys[0].name, "xfr-key.");
	cr_assert_str_eq(c->keys[1].name, "other.key.");
	cr_assert_eq(c->keys[0].alg, TSIGKEY_HMAC_SHA256);
	cr_assert_eq(z->primary_count, 2);
	cr_assert_str_eq(z->primaries[0].text, "192.0.2.1#5300");
	cr_assert_eq(z->primaries[0].key, 0, "zone-wide key=");
	cr_assert_str_eq(z->primaries[1].text, "2001:db8::1#53");
	cr_assert_eq(z->primaries[1].key, 1, "the primary's own key wins");
	cr_assert_eq(z->notify_count, 2, "explicit notify-from replaces the default");
	cr_assert_str_eq(z->notify_from[0].text, "198.18.0.0/15");
	cr_assert_eq(z->notify_from[0].prefix, 15);
	cr_assert_eq(z->notify_from[0].key, 0);
	cr_assert_eq(z->notify_from[1].key, 1);
	cr_assert_eq(z->refresh.min, 1);
	cr_assert_eq(z->refresh.max, 7200);
	cr_assert_eq(z->retry.min, 5);
	cr_assert_eq(z->retry.max, 5);
	cr_assert_eq(z->expire.min, 3);
	cr_assert_eq(z->expire.max, CONFIG_EXPIRE_MAX);
	cr_assert_eq(z->max_size, 64ull << 20);
	cr_assert_eq(z->timeout, 2);
	config_free(c);
}

Test(config, notify_from_none)
{
	struct config *c = conftest_ok("zone a.example primary=127.0.0.1 notify-from=none\n", NULL);

	cr_assert_eq(c->zones[0].notify_count, 0);
	config_free(c);
}

Test(config, secondary_errors)
{
	conftest_bad("zone a.example file=/z primary=192.0.2.1\n",
		     "pharos.conf:1: zone a.example.: 'primary=192.0.2.1' does not go with file= "
		     "(a zone is served from a file or transferred from primaries, not both)");
	conftest_bad("zone a.example refresh=1..2\n",
		     "pharos.conf:1: zone a.example.: a secondary zone needs primary=ADDR");
	conftest_bad("zone a.example primary=192.0.2.300\n",
		     "pharos.conf:1: zone a.example.: primary '192.0.2.300': not an address");
	conftest_bad("zone a.example primary=192.0.2.1#70000\n",
		     "pharos.conf:1: zone a.example.: primary '192.0.2.1#70000': bad port");
	conftest_bad("zone a.example primary=192.0.2.1,key=nokey\n",
		     "pharos.conf:1: zone a.example.: primary '192.0.2.1,key=nokey': unknown key "
		     "(define it with a `key` line or key-file before the zone)");
	conftest_bad("zone a.example primary=192.0.2.1 notify-from=10.0.0.0/33\n",
		     "pharos.conf:1: zone a.example.: notify-from '10.0.0.0/33': bad prefix length");
	conftest_bad("zone a.example primary=192.0.2.1 refresh=10..5\n",
		     "pharos.conf:1: zone a.example.: refresh=10..5: minimum above maximum");
	conftest_bad("zone a.example primary=192.0.2.1 retry=0\n",
		     "pharos.conf:1: zone a.example.: retry=0: expected MIN..MAX in seconds "
		     "(units s m h d w, 1 s at least)");
	conftest_bad("zone a.example primary=192.0.2.1 max-size=1t\n",
		     "pharos.conf:1: zone a.example.: max-size=1t: expected bytes (units k m g)");
	conftest_bad("zone a.example primary=192.0.2.1 key=k\n",
		     "pharos.conf:1: zone a.example.: unknown key 'k' (define it with a `key` line "
		     "or key-file before the zone)");
	conftest_bad("zone a.example primary=192.0.2.1 expire=1h expire=2h\n",
		     "pharos.conf:1: zone a.example.: duplicate attribute 'expire'");
	conftest_bad("zone a.example primary=192.0.2.1\nzone A.example primary=192.0.2.2\n",
		     "pharos.conf:2: duplicate zone 'a.example.' (first on line 1)");
}

Test(config, key_errors)
{
	conftest_bad("key k algorithm=hmac-sha256\n",
		     "pharos.conf:1: key k.: missing secret=BASE64");
	conftest_bad("key k secret=" KEY_B64 "\n", "pharos.conf:1: key k.: missing algorithm=ALG");
	conftest_bad("key k algorithm=hmac-sha256 secret=" KEY_B64 "\n"
		     "key K. algorithm=hmac-sha1 secret=" KEY_B64 "\n",
		     "pharos.conf:2: duplicate key 'k.'");
	conftest_bad("key k algorithm=hmac-sha256 secret=" KEY_B64 " colour=red\n",
		     "pharos.conf:1: key k.: unknown attribute 'colour'");
	conftest_bad("key k algorithm=hmac-sha256 secrett=" KEY_B64 "\n",
		     "pharos.conf:1: key k.: unknown attribute 'secrett'");

	struct config *c = NULL;
	int rc = config_parse("\nkey k algorithm=rot13 secret=" KEY_B64 "\n", 40 + sizeof(KEY_B64),
			      "pharos.conf", NULL, &c, err, sizeof(err));

	cr_assert_eq(rc, PHAROS_ECONFIG);
	cr_assert(strncmp(err, "pharos.conf:2: key k.: ", 23) == 0, "%s", err);
	cr_assert_null(strstr(err, KEY_B64), "a secret never appears in a message: %s", err);
}

Test(config, key_file)
{
	char path[256], conf[256];
	struct config *c = NULL;

	unit_file("keys.conf", "# keys\nkey xfr algorithm=hmac-md5 secret=" KEY_B64 "\n", path,
		  sizeof(path));
	unit_file("p.conf", "key-file keys.conf\nzone a.example primary=127.0.0.1,key=xfr\n", conf,
		  sizeof(conf));
	cr_assert_eq(config_load(conf, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c->key_count, 1);
	cr_assert_eq(c->keys[0].alg, TSIGKEY_HMAC_MD5);
	cr_assert_eq(c->zones[0].primaries[0].key, 0);
	config_free(c);

	/* errors in the key file name the key file and its line */
	unit_file("keys.conf", "key xfr algorithm=hmac-md5 secret=" KEY_B64 "\n\nstate-dir /x\n",
		  path, sizeof(path));
	cr_assert_eq(config_load(conf, &c, err, sizeof(err)), PHAROS_ECONFIG);
	char want[1024];

	snprintf(want, sizeof(want), "%s:3: only `key` lines belong in a key file", path);
	cr_assert_str_eq(err, want);
	unlink(path);
	cr_assert_eq(config_load(conf, &c, err, sizeof(err)), PHAROS_ECONFIG);
	snprintf(want, sizeof(want), "%s:1: key-file: %s: cannot open: No such file or directory",
		 conf, path);
	cr_assert_str_eq(err, want);
}
