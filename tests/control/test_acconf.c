/* Tests of control/acconf.c: the anycast config keys, defaults and line-numbered errors. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "conftest.h"
#include "pharos/err.h"

Test(acconf, defaults)
{
	struct config *c = conftest_ok("", "/etc/pharos");
	const struct acconf *a = &c->anycast;

	cr_assert_eq(a->prefix_count, 0);
	cr_assert_eq(a->interval_ms, 1000);
	cr_assert_eq(a->timeout_ms, 500);
	cr_assert_eq(a->fall, 2);
	cr_assert_eq(a->rise, 3);
	cr_assert_eq(a->sample_ms, 50);
	cr_assert_eq(a->stuck_ms, 200);
	cr_assert_eq(a->grace_ms, 10000);
	cr_assert_eq(a->fast_ms, 250);
	cr_assert_eq(a->max_lag, 0);
	cr_assert_str_eq(a->query, "127.0.0.1:53");
	cr_assert_str_eq(a->bird_reload.argv[0], "birdc");
	cr_assert_str_eq(a->bird_reload.argv[1], "configure");
	cr_assert_null(a->bird_reload.argv[2]);
	cr_assert_str_eq(a->birdc.argv[0], "birdc");
	cr_assert_null(a->drain_file);
	cr_assert_eq(acconf_hooks(a), 0);
	config_free(c);
}

Test(acconf, full)
{
	struct config *c = conftest_ok(
		"anycast-prefix 192.0.2.53/32\n"
		"anycast-prefix 2001:DB8:53:0::/48 hooks=exabgp\n"
		"health-query [2001:db8::53]:5353\n"
		"health-interval 2s\n"
		"health-timeout 300ms\n"
		"health-fall 1\n"
		"health-rise 5\n"
		"health-sample 20\n"
		"health-stuck 100\n"
		"health-max-lag 3\n"
		"grace-period 4\n"
		"drain-file drain\n"
		"route-bird-include /etc/bird/pharos.conf\n"
		"route-bird-reload birdc -s /run/bird.ctl configure\n"
		"route-exabgp yes\n"
		"route-command /usr/local/bin/hook --verbose\n", "/etc/pharos");
	const struct acconf *a = &c->anycast;

	cr_assert_eq(a->prefix_count, 2);
	cr_assert_str_eq(a->prefixes[0].text, "192.0.2.53/32");
	cr_assert_eq(a->prefixes[0].family, AF_INET);
	cr_assert_eq(a->prefixes[0].hooks,
		     ACCONF_HOOK_BIRD | ACCONF_HOOK_EXABGP | ACCONF_HOOK_COMMAND);
	cr_assert_str_eq(a->prefixes[1].text, "2001:db8:53::/48");
	cr_assert_eq(a->prefixes[1].family, AF_INET6);
	cr_assert_eq(a->prefixes[1].hooks, ACCONF_HOOK_EXABGP);
	cr_assert_eq(a->interval_ms, 2000);
	cr_assert_eq(a->timeout_ms, 300);
	cr_assert_eq(a->fall, 1);
	cr_assert_eq(a->rise, 5);
	cr_assert_eq(a->sample_ms, 20);
	cr_assert_eq(a->stuck_ms, 100);
	cr_assert_eq(a->max_lag, 3);
	cr_assert_eq(a->grace_ms, 4000);
	cr_assert_str_eq(a->drain_file, "/etc/pharos/drain");
	cr_assert_str_eq(a->bird_reload.argv[2], "/run/bird.ctl");
	cr_assert_str_eq(a->bird_reload.argv[3], "configure");
	cr_assert_null(a->bird_reload.argv[4]);
	cr_assert_str_eq(a->command.argv[1], "--verbose");
	cr_assert(a->exabgp);
	config_free(c);
}

Test(acconf, errors_name_the_line)
{
	conftest_bad("\nanycast-prefix 192.0.2.53/24\n",
		     "pharos.conf:2: anycast-prefix '192.0.2.53/24': host bits set after the length");
	conftest_bad("anycast-prefix 192.0.2.300/32\n",
		     "pharos.conf:1: anycast-prefix '192.0.2.300/32': not an IPv4 or IPv6 PREFIX/LEN");
	conftest_bad("anycast-prefix 192.0.2.53/33\n",
		     "pharos.conf:1: anycast-prefix '192.0.2.53/33': not an IPv4 or IPv6 PREFIX/LEN");
	conftest_bad("route-exabgp yes\nanycast-prefix 192.0.2.53/32 hooks=bgp\n",
		     "pharos.conf:2: anycast-prefix 192.0.2.53/32: bad attribute 'hooks=bgp' "
		     "(expected hooks=bird,exabgp,command)");
	conftest_bad("anycast-prefix 192.0.2.53/32\nanycast-prefix 192.0.2.53/32\n",
		     "pharos.conf:2: duplicate anycast-prefix 192.0.2.53/32");
	conftest_bad("health-fall 0\n",
		     "pharos.conf:1: health-fall: '0' is not a number in 1..100");
	conftest_bad("health-interval 1h\n", "pharos.conf:1: health-interval: '1h' is not a "
		     "duration in 50..3600000 ms (units: ms, s)");
	conftest_bad("health-query localhost\n",
		     "pharos.conf:1: health-query: 'localhost' is not ADDR[:PORT] ([V6]:PORT)");
	conftest_bad("health-rise 2\nhealth-rise 3\n",
		     "pharos.conf:2: duplicate key 'health-rise'");
	conftest_bad("route-exabgp maybe\n",
		     "pharos.conf:1: route-exabgp: expected yes or no, not 'maybe'");
	conftest_bad("drain-file\n", "pharos.conf:1: missing value for 'drain-file'");
	conftest_bad("drain-file a b\n", "pharos.conf:1: unexpected 'b' after the value of "
		     "'drain-file'");
	conftest_bad("anycast-prefix 192.0.2.53/32 hooks=bird\n",
		     "pharos.conf: anycast-prefix 192.0.2.53/32: hook 'bird' is not configured");
	conftest_bad("health-timeout 1000\n", "pharos.conf: health-timeout (1000 ms) must be "
		     "shorter than health-interval (1000 ms)");
}

Test(acconf, addresses)
{
	struct sockaddr_storage ss;
	unsigned len;

	cr_assert_eq(acconf_addr("192.0.2.53", &ss, &len), 0);
	cr_assert_eq(acconf_addr("192.0.2.53:5353", &ss, &len), 0);
	cr_assert_eq(acconf_addr("[2001:db8::1]:53", &ss, &len), 0);
	cr_assert_eq(acconf_addr("2001:db8::1", &ss, &len), 0);
	cr_assert_eq(acconf_addr("192.0.2.53:0", &ss, &len), -1);
	cr_assert_eq(acconf_addr("[2001:db8::1", &ss, &len), -1);
	cr_assert_eq(acconf_addr("host:53", &ss, &len), -1);
}
