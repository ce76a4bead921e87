/* Unit tests of control/health.c: hard vs soft signals, rise/fall, drain, flapping, start. */
#include <criterion/criterion.h>
#include <string.h>

#include "health.h"

static const struct health_conf conf = { .rise = 3, .fall = 2, .grace_ms = 10000 };

/* A machine that went UP at t = 1000 (first good evaluation). */
static void up(struct health *h)
{
	health_init(h, &conf, 0);
	cr_assert_eq(health_hard(h, 1000, 1, NULL), 0);
	cr_assert_eq(health_soft(h, 1000, 1, NULL), 1);
	cr_assert_eq(h->state, HEALTH_UP);
}

Test(health, starts_in_init_and_never_announces_there)
{
	struct health h;

	health_init(&h, &conf, 0);
	cr_assert_eq(h.state, HEALTH_INIT);
	cr_assert_not(health_announce(&h));
	cr_assert_str_eq(health_state_name(h.state), "init");
	/* hard signals alone (no evaluation yet: zones not loaded) never leave INIT */
	cr_assert_eq(health_hard(&h, 50, 1, NULL), 0);
	cr_assert_eq(health_hard(&h, 100, 0, "dataplane not connected"), 0);
	cr_assert_eq(h.state, HEALTH_INIT);
	cr_assert_not(health_announce(&h));
}

Test(health, first_good_evaluation_announces_at_once)
{
	struct health h;

	health_init(&h, &conf, 0);
	cr_assert_eq(health_soft(&h, 1000, 1, NULL), 1);
	cr_assert_eq(h.state, HEALTH_UP);
	cr_assert(health_announce(&h));
	cr_assert_eq(h.changed_ms, 1000);
	cr_assert(strstr(h.reason, "first") != NULL, "reason: %s", h.reason);
}

Test(health, first_evaluation_with_a_hard_failure_does_not_announce)
{
	struct health h;

	health_init(&h, &conf, 0);
	health_hard(&h, 900, 0, "worker 0 stuck");
	cr_assert_eq(health_soft(&h, 1000, 1, NULL), 0);
	cr_assert_eq(h.state, HEALTH_INIT);
	health_hard(&h, 1050, 1, NULL);
	cr_assert_eq(health_soft(&h, 2000, 1, NULL), 1);
	cr_assert_eq(h.state, HEALTH_UP);
}

Test(health, bad_first_evaluation_goes_down_then_needs_rise)
{
	struct health h;

	health_init(&h, &conf, 0);
	cr_assert_eq(health_soft(&h, 1000, 0, "example.com. SERVFAIL"), 1);
	cr_assert_eq(h.state, HEALTH_DOWN);
	cr_assert(strstr(h.reason, "example.com. SERVFAIL") != NULL);
	cr_assert_eq(health_soft(&h, 2000, 1, NULL), 0);
	cr_assert_eq(health_soft(&h, 3000, 1, NULL), 0);
	cr_assert_eq(health_soft(&h, 4000, 1, NULL), 1);
	cr_assert_eq(h.state, HEALTH_UP);
}

Test(health, hard_failure_withdraws_at_once)
{
	struct health h;

	up(&h);
	cr_assert_eq(health_hard(&h, 1050, 0, "dataplane exited"), 1);
	cr_assert_eq(h.state, HEALTH_DOWN);
	cr_assert_not(health_announce(&h));
	cr_assert_eq(h.changed_ms, 1050);
	cr_assert(strstr(h.reason, "hard: dataplane exited") != NULL, "reason: %s", h.reason);
	cr_assert_str_eq(h.hard_reason, "dataplane exited");
}

Test(health, soft_failure_needs_fall_in_a_row)
{
	struct health h;

	up(&h);
	cr_assert_eq(health_soft(&h, 2000, 0, "wrong serial"), 0);
	cr_assert_eq(h.state, HEALTH_UP);
	cr_assert_eq(health_soft(&h, 3000, 0, "wrong serial"), 1);
	cr_assert_eq(h.state, HEALTH_DOWN);
	cr_assert_eq(h.changed_ms, 3000);
	cr_assert(strstr(h.reason, "soft: 2 failed") != NULL, "reason: %s", h.reason);
}

Test(health, rise_in_a_row_to_come_back)
{
	struct health h;

	up(&h);
	health_soft(&h, 2000, 0, "x");
	health_soft(&h, 3000, 0, "x");
	cr_assert_eq(h.state, HEALTH_DOWN);
	cr_assert_eq(health_soft(&h, 4000, 1, NULL), 0);
	cr_assert_eq(health_soft(&h, 5000, 1, NULL), 0);
	cr_assert_eq(health_soft(&h, 6000, 0, "x"), 0);	/* streak broken */
	cr_assert_eq(health_soft(&h, 7000, 1, NULL), 0);
	cr_assert_eq(health_soft(&h, 8000, 1, NULL), 0);
	cr_assert_eq(h.state, HEALTH_DOWN);
	cr_assert_eq(health_soft(&h, 9000, 1, NULL), 1);
	cr_assert_eq(h.state, HEALTH_UP);
}

Test(health, after_hard_recovery_rise_good_evaluations_are_needed)
{
	struct health h;

	up(&h);
	health_hard(&h, 1100, 0, "worker 1 stuck for 250 ms");
	health_soft(&h, 2000, 1, NULL);		/* does not count: hard still failing */
	health_hard(&h, 2050, 1, NULL);
	cr_assert_eq(h.state, HEALTH_DOWN);	/* clearing a hard signal is not enough */
	health_soft(&h, 3000, 1, NULL);
	health_soft(&h, 4000, 1, NULL);
	cr_assert_eq(h.state, HEALTH_DOWN);
	cr_assert_eq(health_soft(&h, 5000, 1, NULL), 1);
	cr_assert_eq(h.state, HEALTH_UP);
}

Test(health, flapping_soft_signal_never_changes_state)
{
	struct health h;

	up(&h);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(health_soft(&h, 2000 + i * 1000, i % 2, "flap"), 0);
	cr_assert_eq(h.state, HEALTH_UP);
	/* and once down, alternating never reaches rise */
	health_soft(&h, 30000, 0, "x");
	health_soft(&h, 31000, 0, "x");
	cr_assert_eq(h.state, HEALTH_DOWN);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(health_soft(&h, 32000 + i * 1000, i % 2 == 0, "flap"), 0);
	cr_assert_eq(h.state, HEALTH_DOWN);
}

Test(health, drain_withdraws_keeps_tracking_health_and_reports_drained_after_grace)
{
	struct health h;

	up(&h);
	cr_assert_eq(health_drain(&h, 5000, 1, "operator"), 1);
	cr_assert_eq(h.state, HEALTH_DRAINING);
	cr_assert_not(health_announce(&h));
	cr_assert_not(health_drained(&h, 5000));
	cr_assert_not(health_drained(&h, 14999));
	cr_assert(health_drained(&h, 15000));
	cr_assert_eq(health_drain(&h, 6000, 1, "drain file"), 0);	/* already */
	cr_assert(health_drained(&h, 15000), "a second drain must not restart the grace");
	/* health goes on underneath: a hard failure while draining */
	cr_assert_eq(health_hard(&h, 16000, 0, "dataplane exited"), 0);
	cr_assert_eq(h.state, HEALTH_DRAINING);
	cr_assert_eq(health_drain(&h, 17000, 0, "operator"), 1);
	cr_assert_eq(h.state, HEALTH_DOWN, "undrain goes back to what health says");
}

Test(health, undrain_when_healthy_announces_again)
{
	struct health h;

	up(&h);
	health_drain(&h, 2000, 1, "operator");
	health_soft(&h, 3000, 1, NULL);
	cr_assert_eq(health_drain(&h, 4000, 0, "operator"), 1);
	cr_assert_eq(h.state, HEALTH_UP);
	cr_assert(health_announce(&h));
	cr_assert_not(health_drained(&h, 100000));
}

Test(health, drain_in_init_never_announces)
{
	struct health h;

	health_init(&h, &conf, 0);
	health_drain(&h, 10, 1, "drain file /run/pharos/drain");
	cr_assert_eq(h.state, HEALTH_DRAINING);
	cr_assert_eq(health_soft(&h, 1000, 1, NULL), 0);
	cr_assert_not(health_announce(&h));
	cr_assert_eq(health_drain(&h, 2000, 0, "operator"), 1);
	cr_assert_eq(h.state, HEALTH_UP);
}

Test(health, fall_one_and_rise_one)
{
	struct health_conf c1 = { .rise = 1, .fall = 1, .grace_ms = 0 };
	struct health h;

	health_init(&h, &c1, 0);
	health_soft(&h, 1, 1, NULL);
	cr_assert_eq(health_soft(&h, 2, 0, "x"), 1);
	cr_assert_eq(health_soft(&h, 3, 1, NULL), 1);
	health_drain(&h, 4, 1, "shutdown");
	cr_assert(health_drained(&h, 4), "grace 0: drained at once");
}
