#!/usr/bin/python3
"""Anycast client: SOA queries with NSID from many source ports, paced, each with a timeout.

  client.py --server 192.0.2.53 --zone example.test. --ports 64 --once
      one query from each port; prints "NSID count" lines (which PoP answered each port)
  client.py ... --qps 200 --seconds 5 [--stop-file F] [--timeline FILE]
      a bounded stream: query i goes out from port i % ports at i / qps seconds; prints
      "sent N answered N lost N wrong N" and the NSID counts; --timeline writes one line per
      query: "send_time(unix s) answered(0/1) nsid".

An answer counts when it is NOERROR, AA, has the query's ID and an SOA of the zone; any
other answer is "wrong". A query without an answer within --timeout is lost.
Exit 0 when nothing was lost or wrong (and, with --expect-nsid, every answer came from
those NSIDs), 1 otherwise. Needs dnspython.
"""

import argparse
import collections
import selectors
import socket
import sys
import time

try:
    import dns.edns
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdatatype
except ImportError as e:  # pragma: no cover
    sys.stderr.write("client: dnspython missing (%s)\n" % e)
    sys.exit(77)


def make_query(zone, qid):
    q = dns.message.make_query(zone, dns.rdatatype.SOA, use_edns=0,
                               options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
    q.id = qid
    q.flags &= ~dns.flags.RD
    return q.to_wire()


def parse(wire, zone):
    """(ok, nsid text) of an answer."""
    m = dns.message.from_wire(wire)
    nsid = ""
    for o in m.options:
        if o.otype == dns.edns.NSID:
            nsid = (o.data if hasattr(o, "data") else o.to_wire()).decode("ascii", "replace")
    ok = (m.rcode() == dns.rcode.NOERROR and m.flags & dns.flags.AA and
          any(r.rdtype == dns.rdatatype.SOA and r.name.to_text() == zone for r in m.answer))
    return bool(ok), nsid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--ports", type=int, default=64)
    ap.add_argument("--once", action="store_true")
    ap.add_argument("--qps", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--stop-file")
    ap.add_argument("--timeline")
    ap.add_argument("--expect-nsid", action="append", default=[])
    a = ap.parse_args()

    fam = socket.AF_INET6 if ":" in a.server else socket.AF_INET
    socks = []
    sel = selectors.DefaultSelector()
    for i in range(a.ports):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((a.server, a.port))
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
    total = a.ports if a.once else int(a.qps * a.seconds)
    interval = 0 if a.once else 1.0 / a.qps
    pending = {}            # (port index, qid) -> (query number, deadline)
    result = [None] * total  # None = lost, else (ok, nsid)
    sent_at = [0.0] * total
    start = time.monotonic()
    wall0 = time.time()
    i = 0
    qid = 1
    while True:
        now = time.monotonic()
        while i < total and now >= start + i * interval:
            if a.stop_file and not a.once:
                try:
                    open(a.stop_file).close()
                    total = i
                    break
                except OSError:
                    pass
            p = i % a.ports
            qid = (qid % 65535) + 1
            try:
                socks[p].send(make_query(a.zone, qid))
            except OSError:
                pass        # no route: counts as lost
            pending[(p, qid)] = (i, now + a.timeout)
            sent_at[i] = wall0 + (now - start)
            i += 1
        if i >= total and not pending:
            break
        wait = 0.05
        if i < total:
            wait = max(0.0, min(wait, start + i * interval - now))
        for key, _ in sel.select(wait):
            s = key.fileobj
            while True:
                try:
                    w = s.recv(4096)
                except (BlockingIOError, ConnectionRefusedError, OSError):
                    break
                if len(w) < 2:
                    continue
                k = (key.data, int.from_bytes(w[:2], "big"))
                if k not in pending:
                    continue
                n, _ = pending.pop(k)
                try:
                    result[n] = parse(w, a.zone)
                except Exception:  # noqa: BLE001 - a broken answer is wrong
                    result[n] = (False, "")
        now = time.monotonic()
        for k in [k for k, v in pending.items() if v[1] <= now]:
            del pending[k]
    result = result[:total]
    lost = sum(1 for r in result if r is None)
    wrong = sum(1 for r in result if r is not None and not r[0])
    nsids = collections.Counter(r[1] for r in result if r is not None and r[0])
    print("sent %d answered %d lost %d wrong %d" % (total, total - lost - wrong, lost, wrong))
    for n, c in sorted(nsids.items()):
        print("NSID %s %d" % (n or "-", c))
    if a.timeline:
        with open(a.timeline, "w") as f:
            for n in range(total):
                r = result[n]
                f.write("%.6f %d %s\n" % (sent_at[n], 1 if r and r[0] else 0,
                                          (r[1] if r else "") or "-"))
    bad_nsid = a.expect_nsid and any(n not in a.expect_nsid for n in nsids)
    return 0 if lost == 0 and wrong == 0 and not bad_nsid else 1


if __name__ == "__main__":
    sys.exit(main())
