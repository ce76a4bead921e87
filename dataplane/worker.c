/* UDP worker threads: the one loop every I/O backend runs, reading the snapshot under QSBR RCU. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>
#include "pharos/err.h"
#include "mgmt.h"
#include "worker.h"

volatile sig_atomic_t worker_quit;

void worker_stats_read(const struct worker_stats *st, struct worker_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->loops = IO_STAT_GET(st->loops);
	out->rx = IO_STAT_GET(st->rx);
	out->tx = IO_STAT_GET(st->tx);
	out->dropped = IO_STAT_GET(st->dropped);
	out->noerror = IO_STAT_GET(st->noerror);
	out->nxdomain = IO_STAT_GET(st->nxdomain);
	out->refused = IO_STAT_GET(st->refused);
	out->formerr = IO_STAT_GET(st->formerr);
	out->servfail = IO_STAT_GET(st->servfail);
	out->notimp = IO_STAT_GET(st->notimp);
	out->truncated = IO_STAT_GET(st->truncated);
	out->notify_relayed = IO_STAT_GET(st->notify_relayed);
	out->notify_lost = IO_STAT_GET(st->notify_lost);
	out->expired = IO_STAT_GET(st->expired);
}

/*
 * Hand a NOTIFY to the management thread: copied into our ring (no lock, no allocation;
 * one eventfd write, NOTIFYs are rare). Full ring or oversize: lost, the primary retries.
 */
static void worker_relay(struct worker *w, const struct io_pkt *p)
{
	struct relay_msg *m = relay_ring_claim(w->relay);

	if (m == NULL || p->len > IPC_NOTIFY_MAX || w->ops->peer(w->q, p, &m->from.peer) < 0) {
		WORKER_STAT_ADD(&w->st, notify_lost, 1);
		return;
	}
	m->from.transport = IPC_TRANSPORT_UDP;
	m->from.thread = w->id;
	m->len = p->len;
	memcpy(m->data, p->data, p->len);
	relay_ring_commit(w->relay);
	WORKER_STAT_ADD(&w->st, notify_relayed, 1);
}

/*
 * Warm the caches for the whole batch's lookups, one dependent load per pass: the loads
 * of different queries overlap instead of each query waiting for its own in turn.
 */
static void worker_warm(struct worker *w, const struct snapshot *snap, unsigned n)
{
	if (n < 2)
		return;			/* nothing to overlap with */
	for (unsigned i = 0; i < n; i++)
		answer_warm(snap, w->pkts[i].data, w->pkts[i].len, &w->warm[i]);
	for (unsigned stage = 0; stage < IMG_WARM_STEPS; stage++)
		for (unsigned i = 0; i < n; i++)
			img_warm_step(&w->warm[i]);
}

/*
 * Answer pkts[0..n) in place against the current snapshot, then send. The snapshot pointer
 * is only used inside this pass: the next rcu_quiescent_state() lets mgmt free it.
 */
static void worker_answer(struct worker *w, unsigned n)
{
	const struct snapshot *snap = rcu_dereference(mgmt_snap);
	unsigned ntx = 0, ndrop = 0, nrelay = 0, sent;

	worker_warm(w, snap, n);
	for (unsigned i = 0; i < n; i++) {
		struct io_pkt *p = &w->pkts[i];
		struct answer_info info;

		if (unlikely(relay_wants(p->data, p->len)) && w->ops->peer != NULL) {
			worker_relay(w, p);	/* control answers it, later */
			w->drop[ndrop++] = *p;
			nrelay++;
			continue;
		}
		size_t len = answer_query(snap, p->data, p->len, p->data, p->cap, ANSWER_UDP,
					  &info);

		if (unlikely(len == 0)) {
			w->drop[ndrop++] = *p;
			continue;
		}
		worker_count(&w->st, &info);
		p->len = (uint16_t)len;
		w->pkts[ntx++] = *p;
	}
	sent = ntx ? w->ops->tx_burst(w->q, w->pkts, ntx) : 0;
	if (ndrop)
		w->ops->release(w->q, w->drop, ndrop);
	WORKER_STAT_ADD(&w->st, rx, n);
	WORKER_STAT_ADD(&w->st, tx, sent);
	WORKER_STAT_ADD(&w->st, dropped, ndrop - nrelay + (ntx - sent));
}

/* Nothing came: go RCU-offline while blocked so a publish never waits for an idle worker. */
static void worker_idle(struct worker *w)
{
	if (w->ops->wait == NULL)
		return;
	rcu_thread_offline();
	w->ops->wait(w->q, WORKER_IDLE_MS);
	rcu_thread_online();
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	rcu_register_thread();
	while (!worker_quit) {
		unsigned n = w->ops->rx_burst(w->q, w->pkts, IO_BURST);

		if (likely(n > 0))
			worker_answer(w, n);
		else
			worker_idle(w);
		WORKER_STAT_ADD(&w->st, loops, 1);
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

int worker_init(struct worker *w, unsigned id, int cpu, const struct io_ops *ops,
		const struct io_conf *conf, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cpu = cpu;
	w->ops = ops;
	w->relay = relay_ring_new(relay_wake_fd);
	if (w->relay == NULL) {
		snprintf(err, errlen, "out of memory");
		return PHAROS_ENOMEM;
	}
	int rc = ops->init(conf, id, &w->q, err, errlen);

	if (rc < 0) {
		free(w->relay);
		w->relay = NULL;
	}
	return rc;
}

int worker_start(struct worker *w)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int rc;

	if (pthread_attr_init(&attr) != 0)
		return PHAROS_EIO;
	if (w->cpu >= 0) {
		/* pinned before the first instruction: the queue's pages get touched locally */
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	rc = pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		errno = rc;
		return PHAROS_EIO;
	}
	w->running = 1;
	return 0;
}

void worker_join(struct worker *w)
{
	if (w->running)
		pthread_join(w->thread, NULL);
	w->running = 0;
}

void worker_fini(struct worker *w)
{
	if (w->ops && w->ops->fini)
		w->ops->fini(w->q);
	w->q = NULL;
	free(w->relay);
	w->relay = NULL;
}
