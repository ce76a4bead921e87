/* NOTIFY relay: lock-free rings from the answering threads, pending ids, answers sent back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "pharos/err.h"
#include "relay.h"
#include "worker.h"

int relay_subscribed;
int relay_wake_fd = -1;

uint64_t relay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- single-producer single-consumer ring ---- */

struct relay_ring *relay_ring_new(int wake_fd)
{
	struct relay_ring *r = aligned_alloc(64, (sizeof(*r) + 63) & ~(size_t)63);

	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->wake_fd = wake_fd;
	return r;
}

/*
 * head and tail run freely (mod 2^32); tail - head is the fill. The producer reads head
 * with acquire (the consumer is done with that slot), publishes tail with release (the
 * slot's bytes are visible before it); the consumer mirrors that.
 */
struct relay_msg *relay_ring_claim(struct relay_ring *r)
{
	uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);

	if (r->tail - head >= RELAY_RING_SLOTS)
		return NULL;
	return &r->slot[r->tail % RELAY_RING_SLOTS];
}

void relay_ring_commit(struct relay_ring *r)
{
	uint64_t one = 1;

	__atomic_store_n(&r->tail, r->tail + 1, __ATOMIC_RELEASE);
	if (r->wake_fd >= 0)
		(void)!write(r->wake_fd, &one, sizeof(one));	/* non-blocking eventfd */
}

struct relay_msg *relay_ring_peek(struct relay_ring *r)
{
	uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);

	return tail == r->head ? NULL : &r->slot[r->head % RELAY_RING_SLOTS];
}

void relay_ring_pop(struct relay_ring *r)
{
	__atomic_store_n(&r->head, r->head + 1, __ATOMIC_RELEASE);
}

/* ---- pending relays ---- */

void relay_table_init(struct relay_table *t)
{
	memset(t, 0, sizeof(*t));
	t->next_id = 1;
}

int relay_table_add(struct relay_table *t, const struct relay_from *from, uint64_t now,
		    uint64_t *id, struct relay_from *evicted)
{
	struct relay_pend *p = &t->v[t->next_id % RELAY_PENDING];
	int ev = p->id != 0;

	if (ev)
		*evicted = p->from;
	p->id = t->next_id++;
	p->deadline = now + RELAY_TIMEOUT_MS;
	p->from = *from;
	*id = p->id;
	return ev;
}

int relay_table_take(struct relay_table *t, uint64_t id, uint64_t now, struct relay_from *out)
{
	struct relay_pend *p = &t->v[id % RELAY_PENDING];

	if (id == 0 || p->id != id)
		return PHAROS_ENOTFOUND;
	*out = p->from;
	p->id = 0;
	return now > p->deadline ? PHAROS_ETIMEOUT : 0;
}

int relay_table_expire(struct relay_table *t, uint64_t now, struct relay_from *out)
{
	for (unsigned i = 0; i < RELAY_PENDING; i++) {
		struct relay_pend *p = &t->v[i];

		if (p->id != 0 && now > p->deadline) {
			*out = p->from;
			p->id = 0;
			return 1;
		}
	}
	return 0;
}

/* ---- the management thread's side ---- */

int relay_open(struct relay *r)
{
	memset(r, 0, sizeof(*r));
	relay_table_init(&r->table);
	r->sub = -1;
	__atomic_store_n(&relay_subscribed, 0, __ATOMIC_RELAXED);
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	relay_wake_fd = r->efd;
	return r->efd < 0 ? PHAROS_EIO : 0;
}

int relay_attach(struct relay *r, const struct worker *workers, unsigned nworkers,
		 struct relay_ring *tcp_up, struct relay_ring *tcp_down)
{
	r->answered = calloc(nworkers + 1, sizeof(*r->answered));
	r->dropped = calloc(nworkers + 1, sizeof(*r->dropped));
	if (r->answered == NULL || r->dropped == NULL)
		return PHAROS_ENOMEM;
	r->workers = workers;
	r->nworkers = nworkers;
	r->tcp_up = tcp_up;
	r->tcp_down = tcp_down;
	return 0;
}

int relay_subscribe(struct relay *r, unsigned ci)
{
	int took = r->sub >= 0 && r->sub != (int)ci;

	r->sub = (int)ci;
	__atomic_store_n(&relay_subscribed, 1, __ATOMIC_RELAXED);
	return took;
}

void relay_peer_gone(struct relay *r, unsigned ci)
{
	if (r->sub != (int)ci)
		return;
	r->sub = -1;
	__atomic_store_n(&relay_subscribed, 0, __ATOMIC_RELAXED);
}

static void relay_count(uint64_t *v, const struct relay *r, const struct relay_from *f)
{
	if (v != NULL && f->thread <= r->nworkers)
		v[f->thread]++;
}

/* Give one NOTIFY an id and send it up; its bytes are copied, the slot can go. */
static void relay_up(struct relay *r, struct relay_msg *m, uint64_t now, relay_send_fn send,
		     void *ctx)
{
	static struct ipc_notify n;	/* 4 KiB+, mgmt thread only */
	struct relay_from ev;
	uint64_t id;

	if (r->sub < 0 || m->len > IPC_NOTIFY_MAX) {
		relay_count(r->dropped, r, &m->from);	/* the subscriber left meanwhile */
		return;
	}
	if (relay_table_add(&r->table, &m->from, now, &id, &ev))
		relay_count(r->dropped, r, &ev);
	memset(&n, 0, sizeof(n));
	n.id = id;
	n.transport = m->from.transport;
	n.len = m->len;
	n.src = m->from.peer.src;
	n.dst = m->from.peer.dst;
	memcpy(n.msg, m->data, m->len);
	(void)send(ctx, (unsigned)r->sub, &n);	/* a failure drops the peer: times out */
}

static void relay_drain(struct relay *r, struct relay_ring *ring, uint32_t thread, uint64_t now,
			relay_send_fn send, void *ctx)
{
	struct relay_msg *m;

	while ((m = relay_ring_peek(ring)) != NULL) {
		m->from.thread = thread;
		relay_up(r, m, now, send, ctx);
		relay_ring_pop(ring);
	}
}

void relay_pump(struct relay *r, uint64_t now, relay_send_fn send, void *ctx)
{
	uint64_t v;

	(void)!read(r->efd, &v, sizeof(v));	/* reset the eventfd; EAGAIN is fine */
	for (unsigned i = 0; i < r->nworkers; i++)
		if (r->workers[i].relay != NULL)
			relay_drain(r, r->workers[i].relay, i, now, send, ctx);
	if (r->tcp_up != NULL)
		relay_drain(r, r->tcp_up, r->nworkers, now, send, ctx);
}

/* UDP: one sendmsg on the worker's socket (thread-safe); TCP: down to the TCP thread. */
static int relay_send_back(struct relay *r, const struct relay_from *f,
			   const struct ipc_notify_answer *a)
{
	if (f->transport == IPC_TRANSPORT_UDP) {
		const struct worker *w = f->thread < r->nworkers ? &r->workers[f->thread] : NULL;

		if (w == NULL || w->ops->send_to_peer == NULL)
			return PHAROS_EINVAL;
		return w->ops->send_to_peer(w->q, &f->peer, a->msg, a->len);
	}
	struct relay_msg *m = r->tcp_down ? relay_ring_claim(r->tcp_down) : NULL;

	if (m == NULL)
		return PHAROS_ELIMIT;
	m->from = *f;
	m->id = a->id;
	m->len = a->len;
	memcpy(m->data, a->msg, a->len);
	relay_ring_commit(r->tcp_down);
	return 0;
}

void relay_answer(struct relay *r, const struct ipc_notify_answer *a, uint64_t now)
{
	struct relay_from f;
	int rc = relay_table_take(&r->table, a->id, now, &f);

	if (rc == PHAROS_ENOTFOUND)
		return;		/* unknown, answered or evicted: counted already */
	if (rc == 0 && relay_send_back(r, &f, a) == 0)
		relay_count(r->answered, r, &f);
	else
		relay_count(r->dropped, r, &f);
}

void relay_tick(struct relay *r, uint64_t now)
{
	struct relay_from f;

	while (relay_table_expire(&r->table, now, &f))
		relay_count(r->dropped, r, &f);
}

void relay_close(struct relay *r)
{
	if (r->efd >= 0)
		close(r->efd);
	r->efd = -1;
	relay_wake_fd = -1;
	free(r->answered);
	free(r->dropped);
	r->answered = r->dropped = NULL;
	r->sub = -1;
	__atomic_store_n(&relay_subscribed, 0, __ATOMIC_RELAXED);
}
