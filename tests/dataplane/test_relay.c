/* Unit tests for dataplane/relay.c: the SPSC ring, the pending-relay table, relay_wants. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "pharos/err.h"
#include "relay.h"

static void push(struct relay_ring *r, uint32_t v)
{
	struct relay_msg *m = relay_ring_claim(r);

	cr_assert_not_null(m, "ring full before %u", v);
	m->len = v;
	m->data[0] = (uint8_t)v;
	relay_ring_commit(r);
}

static uint32_t pop(struct relay_ring *r)
{
	struct relay_msg *m = relay_ring_peek(r);
	uint32_t v;

	cr_assert_not_null(m);
	v = m->len;
	cr_assert_eq(m->data[0], (uint8_t)v);
	relay_ring_pop(r);
	return v;
}

Test(relay_ring, fifo_full_and_wraparound)
{
	struct relay_ring *r = relay_ring_new(-1);

	cr_assert_not_null(r);
	cr_assert_null(relay_ring_peek(r), "a new ring is empty");
	for (uint32_t round = 0; round < 5; round++) {	/* wraps the slot index */
		for (uint32_t i = 0; i < RELAY_RING_SLOTS; i++)
			push(r, round * 100 + i);
		cr_assert_null(relay_ring_claim(r), "slot %d given out", RELAY_RING_SLOTS + 1);
		for (uint32_t i = 0; i < RELAY_RING_SLOTS; i++)
			cr_assert_eq(pop(r), round * 100 + i, "out of order");
		cr_assert_null(relay_ring_peek(r));
	}
	push(r, 7);			/* half full, then one freed: room for exactly one */
	cr_assert_eq(pop(r), 7);
	free(r);
}

Test(relay_ring, head_and_tail_wrap_2_32)
{
	struct relay_ring *r = relay_ring_new(-1);

	r->head = r->tail = UINT32_MAX - 3;	/* the counters overflow mid-way */
	for (uint32_t i = 0; i < RELAY_RING_SLOTS; i++)
		push(r, i);
	cr_assert_null(relay_ring_claim(r));
	for (uint32_t i = 0; i < RELAY_RING_SLOTS; i++)
		cr_assert_eq(pop(r), i);
	cr_assert_null(relay_ring_peek(r));
	free(r);
}

Test(relay_ring, commit_wakes_the_eventfd)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	struct relay_ring *r = relay_ring_new(efd);
	uint64_t v = 0;

	cr_assert_geq(efd, 0);
	cr_assert_eq(read(efd, &v, sizeof(v)), -1, "nothing pushed: no wake-up");
	push(r, 1);
	push(r, 2);
	cr_assert_eq(read(efd, &v, sizeof(v)), (ssize_t)sizeof(v));
	cr_assert_eq(v, 2, "one wake-up per commit");
	free(r);
	close(efd);
}

/* One producer thread, one consumer: every message arrives once, in order. */
#define SPSC_N 100000u
static void *producer(void *arg)
{
	struct relay_ring *r = arg;

	for (uint32_t i = 0; i < SPSC_N;) {
		struct relay_msg *m = relay_ring_claim(r);

		if (m == NULL) {
			sched_yield();	/* full: the consumer needs the CPU (CI has two) */
			continue;
		}
		m->len = i;
		memcpy(m->data, &i, sizeof(i));
		relay_ring_commit(r);
		i++;
	}
	return NULL;
}

Test(relay_ring, two_threads)
{
	struct relay_ring *r = relay_ring_new(-1);
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, producer, r), 0);
	for (uint32_t want = 0; want < SPSC_N;) {
		struct relay_msg *m = relay_ring_peek(r);
		uint32_t got;

		if (m == NULL) {
			sched_yield();
			continue;
		}
		memcpy(&got, m->data, sizeof(got));
		cr_assert_eq(m->len, want, "message %u out of order (got %u)", want, m->len);
		cr_assert_eq(got, want, "bytes of message %u not visible (got %u)", want, got);
		relay_ring_pop(r);
		want++;
	}
	pthread_join(th, NULL);
	cr_assert_null(relay_ring_peek(r));
	free(r);
}

static struct relay_from from_thread(uint32_t thread)
{
	struct relay_from f;

	memset(&f, 0, sizeof(f));
	f.transport = IPC_TRANSPORT_UDP;
	f.thread = thread;
	return f;
}

Test(relay_table, add_take_once)
{
	static struct relay_table t;
	struct relay_from f = from_thread(3), out, ev;
	uint64_t id1, id2;

	relay_table_init(&t);
	cr_assert_eq(relay_table_add(&t, &f, 1000, &id1, &ev), 0);
	f.thread = 4;
	cr_assert_eq(relay_table_add(&t, &f, 1000, &id2, &ev), 0);
	cr_assert_neq(id1, 0);
	cr_assert_neq(id1, id2);
	cr_assert_eq(relay_table_take(&t, id2, 1001, &out), 0);
	cr_assert_eq(out.thread, 4);
	cr_assert_eq(relay_table_take(&t, id2, 1001, &out), PHAROS_ENOTFOUND, "answered twice");
	cr_assert_eq(relay_table_take(&t, id1, 1001, &out), 0);
	cr_assert_eq(out.thread, 3);
	cr_assert_eq(relay_table_take(&t, 0, 1001, &out), PHAROS_ENOTFOUND, "id 0");
	cr_assert_eq(relay_table_take(&t, id2 + 1000, 1001, &out), PHAROS_ENOTFOUND, "bogus id");
	cr_assert_eq(relay_table_take(&t, id2 + RELAY_PENDING, 1001, &out), PHAROS_ENOTFOUND,
		     "an id of the same slot");
}

Test(relay_table, timeout)
{
	static struct relay_table t;
	struct relay_from f = from_thread(1), out, ev;
	uint64_t id, id2;

	relay_table_init(&t);
	relay_table_add(&t, &f, 5000, &id, &ev);
	cr_assert_eq(relay_table_take(&t, id, 5000 + RELAY_TIMEOUT_MS + 1, &out),
		     PHAROS_ETIMEOUT);
	cr_assert_eq(out.thread, 1, "a late answer says whose relay it was (to count it)");
	cr_assert_eq(relay_table_take(&t, id, 5000, &out), PHAROS_ENOTFOUND, "removed");

	relay_table_add(&t, &f, 5000, &id, &ev);
	f.thread = 2;
	relay_table_add(&t, &f, 6000, &id2, &ev);
	cr_assert_eq(relay_table_expire(&t, 5000 + RELAY_TIMEOUT_MS, &out), 0, "not yet due");
	cr_assert_eq(relay_table_expire(&t, 5001 + RELAY_TIMEOUT_MS, &out), 1);
	cr_assert_eq(out.thread, 1);
	cr_assert_eq(relay_table_expire(&t, 5001 + RELAY_TIMEOUT_MS, &out), 0, "only one due");
	cr_assert_eq(relay_table_take(&t, id2, 6000, &out), 0, "the other still answers");
}

Test(relay_table, the_oldest_is_evicted)
{
	static struct relay_table t;
	struct relay_from f, ev;
	uint64_t ids[RELAY_PENDING + 1];
	struct relay_from out;

	relay_table_init(&t);
	for (unsigned i = 0; i < RELAY_PENDING; i++) {
		f = from_thread(i);
		cr_assert_eq(relay_table_add(&t, &f, 0, &ids[i], &ev), 0, "#%u evicted", i);
	}
	f = from_thread(9999);
	cr_assert_eq(relay_table_add(&t, &f, 0, &ids[RELAY_PENDING], &ev), 1);
	cr_assert_eq(ev.thread, 0, "the oldest goes");
	cr_assert_eq(relay_table_take(&t, ids[0], 1, &out), PHAROS_ENOTFOUND);
	cr_assert_eq(relay_table_take(&t, ids[1], 1, &out), 0);
	cr_assert_eq(relay_table_take(&t, ids[RELAY_PENDING], 1, &out), 0);
	cr_assert_eq(out.thread, 9999);
}

Test(relay, wants_only_notify_requests_with_a_subscriber)
{
	uint8_t q[12] = { 0x12, 0x34, 4 << 3, 0, 0, 1 };

	relay_subscribed = 0;
	cr_assert_eq(relay_wants(q, sizeof(q)), 0, "nobody subscribed");
	relay_subscribed = 1;
	cr_assert_eq(relay_wants(q, sizeof(q)), 1);
	cr_assert_eq(relay_wants(q, 11), 0, "shorter than a header");
	q[2] = 0x80 | (4 << 3);
	cr_assert_eq(relay_wants(q, sizeof(q)), 0, "a NOTIFY response");
	q[2] = (4 << 3) | 0x04 | 0x01;		/* AA and RD do not matter */
	cr_assert_eq(relay_wants(q, sizeof(q)), 1);
	q[2] = 0;
	cr_assert_eq(relay_wants(q, sizeof(q)), 0, "a query");
	q[2] = 5 << 3;
	cr_assert_eq(relay_wants(q, sizeof(q)), 0, "UPDATE");
	relay_subscribed = 0;
}
