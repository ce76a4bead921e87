#!/usr/bin/python3
"""DNS over TCP as doc/dataplane.md promises it (RFC 7766), checked against one server.

    tcpcheck.py zone ORIGIN        print the test zone (the checks know what it holds)
    tcpcheck.py run --server ADDR:PORT --origin ORIGIN [--pharosctl EXE --control-socket P]

`run` prints one line per check, `ok   what` or `FAIL what: why`, and exits 0 only when
every check passed. With --pharosctl it also reads the TCP thread's counters (`pharosctl
--json stats`): to prove the slow reader really made the server wait for the socket, and
that a non-query message is counted as dropped.

The checks, in the order they run (the idle ones in the background meanwhile):
  pipelined    20 queries in one write -> 20 answers in the same order (IDs), each right,
               and nothing more
  trickle      a query sent one byte per segment; two queries split at odd boundaries
  big          a TXT RRset of 200 x 255 bytes (> 16 KiB) arrives whole, TC clear
  slow-reader  more big answers than the server's send buffer can hold (~88, 4.7 MB), to
               a client with a small window that waits 2 s, then reads in small bites
               with a 1.5 s pause: all complete, in order (and, per the counters, the
               server had not written them all while the client waited)
  half-close   3 queries then shutdown(SHUT_WR) -> 3 answers, then EOF
  bad-message  a zero-length prefix, a response (QR=1), an 11-byte message: answers to
               the queries before them, nothing for them or after them, then the
               connection is closed (well before the idle timeout); QR=1 and short
               messages are counted as dropped
  transfer     AXFR and IXFR over TCP -> REFUSED (doc/answer.md: no transfer ACL yet),
               and the connection keeps serving
  udp-tcp      the same queries over UDP and TCP get the same response (TC aside); the
               big RRset is TC over UDP and whole over TCP
  idle         silent, after one answer, and stalled inside a length prefix: each closed
               by the server after more than 5 s and within 20 s (timeout 10 s)
  cap          270 connections: 256 usable (each answers a query), the other 14 closed
               by the server; once all are closed, 256 new ones are usable again

Needs dnspython (/usr/bin/python3 with python3-dnspython).
"""

import argparse
import json
import select
import socket
import struct
import subprocess
import sys
import threading
import time

try:
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
except ImportError as e:  # pragma: no cover
    sys.stderr.write("tcpcheck: dnspython missing (%s)\n" % e)
    sys.exit(77)

SERIAL = 2026030301
HOSTS = 32  # h0 .. h31, A 198.51.100.(i + 1): a distinct answer per name
BIG_RRS = 200
BIG_WIRE = 53630  # about the size of that answer (200 x 268 bytes + header, question)
# AXFR/IXFR without a transfer ACL (doc/answer.md, step 2; Knot answers NOTAUTH)
TRANSFER_RCODE = dns.rcode.REFUSED
CAP = 256  # TCP_CLIENTS_MAX
IO_TIMEOUT = 20.0  # any single wait for the server; only reached when something is wrong
CLOSE_SOON = 5.0  # "closed at once": well under the 10 s idle timeout


def big_text(i):
    """The i-th string of the big TXT RRset: 255 bytes, distinct, no quoting needed."""
    head = "big-%03d-" % i
    return head + chr(ord("a") + i % 26) * (255 - len(head))


def zone_text(origin):
    lines = [
        "$ORIGIN %s" % origin,
        "$TTL 300",
        "@\tIN SOA\tns1 hostmaster %d 7200 3600 1209600 300" % SERIAL,
        "@\tIN NS\tns1",
        "ns1\tIN A\t192.0.2.53",
        "www\tIN A\t192.0.2.80",
        "www\tIN AAAA\t2001:db8::80",
        "alias\tIN CNAME\twww",
        "mail\tIN MX\t10 www",
    ]
    lines += ["h%d\tIN A\t198.51.100.%d" % (i, i + 1) for i in range(HOSTS)]
    lines += ['big\tIN TXT\t"%s"' % big_text(i) for i in range(BIG_RRS)]
    return "\n".join(lines) + "\n"


class Zone:
    """What the test zone answers, for the checks to compare with."""

    def __init__(self, origin):
        self.origin = dns.name.from_text(origin)

    def name(self, rel):
        if rel == "@":
            return self.origin
        if rel.endswith("."):
            return dns.name.from_text(rel)
        return dns.name.from_text(rel, self.origin)

    def expect(self, rel, qtype):
        """(rcode, set of 'owner TYPE rdata' in the answer section)."""
        o = self.origin.to_text()
        n = self.name(rel).to_text().lower()
        www = "www.%s" % o
        table = {
            ("www", "A"): {"%s A 192.0.2.80" % www},
            ("www", "AAAA"): {"%s AAAA 2001:db8::80" % www},
            ("www", "TXT"): set(),
            ("alias", "A"): {"alias.%s CNAME %s" % (o, www), "%s A 192.0.2.80" % www},
            ("mail", "MX"): {"mail.%s MX 10 %s" % (o, www)},
            ("@", "SOA"): {"%s SOA ns1.%s hostmaster.%s %d 7200 3600 1209600 300"
                           % (o, o, o, SERIAL)},
            ("@", "NS"): {"%s NS ns1.%s" % (o, o)},
            ("big", "TXT"): {'big.%s TXT "%s"' % (o, big_text(i)) for i in range(BIG_RRS)},
        }
        if rel.startswith("h") and rel[1:].isdigit():
            return dns.rcode.NOERROR, {"%s A 198.51.100.%d" % (n, int(rel[1:]) + 1)}
        if rel == "nothere":
            return dns.rcode.NXDOMAIN, set()
        if rel.endswith("."):
            return dns.rcode.REFUSED, set()
        return dns.rcode.NOERROR, table[(rel.lower(), qtype)]


def answer_set(m):
    return {"%s %s %s" % (rrs.name.to_text().lower(), dns.rdatatype.to_text(rrs.rdtype),
                          rd.to_text())
            for rrs in m.answer for rd in rrs}


class Failed(Exception):
    pass


def query(zone, rel, qtype, qid, **kw):
    m = dns.message.make_query(zone.name(rel), qtype, **kw)
    m.id = qid
    return m


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def judge(zone, rel, qtype, qid, wire):
    """Raise Failed unless wire is the right, complete answer to query (rel, qtype, qid)."""
    try:
        m = dns.message.from_wire(wire)
    except Exception as e:  # noqa: BLE001 (any parse error is the finding)
        raise Failed("%s %s: unparsable response (%s)" % (rel, qtype, e))
    want_rcode, want = zone.expect(rel, qtype)
    what = "%s %s (id %d)" % (rel, qtype, qid)
    if m.id != qid:
        raise Failed("%s: got id %d" % (what, m.id))
    if not m.flags & dns.flags.QR or m.flags & dns.flags.TC:
        raise Failed("%s: flags %s" % (what, dns.flags.to_text(m.flags)))
    if len(m.question) != 1 or m.question[0].name != zone.name(rel) or \
            m.question[0].rdtype != dns.rdatatype.from_text(qtype):
        raise Failed("%s: question %s" % (what, m.question))
    if m.rcode() != want_rcode:
        raise Failed("%s: rcode %s, expected %s" % (what, dns.rcode.to_text(m.rcode()),
                                                   dns.rcode.to_text(want_rcode)))
    if bool(m.flags & dns.flags.AA) != (want_rcode != dns.rcode.REFUSED):
        raise Failed("%s: AA %s" % (what, bool(m.flags & dns.flags.AA)))
    got = answer_set(m)
    if got != want:
        raise Failed("%s: answer has %d records, %d missing, %d unexpected (%s)"
                     % (what, len(got), len(want - got), len(got - want),
                        sorted(got ^ want)[:2]))
    return m


class Conn:
    """One TCP connection with a framing reader."""

    def __init__(self, server, rcvbuf=None, nodelay=True):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if nodelay:
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(IO_TIMEOUT)
        self.s.connect(server)
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def _fill(self, want, chunk=65536):
        """Read until buf holds want bytes; False on EOF (or reset) first."""
        while len(self.buf) < want:
            try:
                data = self.s.recv(chunk)
            except ConnectionResetError:
                data = b""
            except socket.timeout:
                raise Failed("no data from the server for %.0f s" % IO_TIMEOUT)
            if not data:
                return False
            self.buf += data
        return True

    def read_msg(self, chunk=65536):
        """The next message, or None at a clean EOF; Failed on EOF inside a message."""
        if not self._fill(2, chunk):
            if self.buf:
                raise Failed("EOF inside a length prefix")
            return None
        n = struct.unpack("!H", self.buf[:2])[0]
        if not self._fill(2 + n, chunk):
            raise Failed("EOF after %d of %d bytes of a message"
                         % (len(self.buf) - 2, n))
        msg, self.buf = self.buf[2:2 + n], self.buf[2 + n:]
        return msg

    def expect_eof(self, within):
        """Seconds until the server closed; Failed on data or when it stays open."""
        t0 = time.monotonic()
        self.s.settimeout(within)
        try:
            data = self.s.recv(4096)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            raise Failed("still open after %.0f s" % within)
        finally:
            self.s.settimeout(IO_TIMEOUT)
        if data or self.buf:
            raise Failed("%d unexpected bytes instead of EOF" % (len(data) + len(self.buf)))
        return time.monotonic() - t0

    def expect_quiet(self, secs):
        """Nothing more arrives for secs (and the connection stays open)."""
        r, _, _ = select.select([self.s], [], [], secs)
        if r:
            raise Failed("unexpected %s" % ("EOF" if not self.s.recv(1, socket.MSG_PEEK)
                                           else "extra data"))


class Checker:
    def __init__(self, args):
        host, port = args.server.rsplit(":", 1)
        self.server = (host, int(port))
        self.zone = Zone(args.origin)
        self.pharosctl = args.pharosctl
        self.ctl_sock = args.control_socket
        self.failures = 0

    # --- reporting and helpers

    def run(self, title, fn):
        t0 = time.monotonic()
        try:
            detail = fn()
            print("ok   %s: %s (%.1f s)" % (title, detail, time.monotonic() - t0))
        except Exception as e:  # noqa: BLE001 (report it, run the other checks)
            self.failures += 1
            kind = "" if isinstance(e, Failed) else "%s: " % type(e).__name__
            print("FAIL %s: %s%s" % (title, kind, e))
        sys.stdout.flush()

    def tcp_stats(self):
        """The TCP thread's counters, or None without --pharosctl."""
        if not self.pharosctl:
            return None
        out = subprocess.run([self.pharosctl, "-s", self.ctl_sock, "--json", "stats"],
                             check=True, capture_output=True, text=True, timeout=IO_TIMEOUT)
        rows = [w for w in json.loads(out.stdout)["workers"] if w.get("tcp")]
        if len(rows) != 1:
            raise Failed("stats: %d tcp rows" % len(rows))
        return rows[0]

    def exchange(self, conn, qs):
        """Send [(rel, qtype, qid, kw)] in one write; read and judge each answer in turn."""
        conn.send(b"".join(frame(query(self.zone, r, t, i, **kw).to_wire())
                           for r, t, i, kw in qs))
        for r, t, i, _ in qs:
            wire = conn.read_msg()
            if wire is None:
                raise Failed("EOF before the answer to %s %s (id %d)" % (r, t, i))
            judge(self.zone, r, t, i, wire)

    def server_conns(self):
        """Server-side TCP sockets still open (ESTABLISHED, SYN_RECV, CLOSE_WAIT), from
        /proc/net/tcp: the test runs in its own network namespace, so they are ours."""
        n = 0
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                lport = int(fields[1].split(":")[1], 16)
                if lport == self.server[1] and fields[3] in ("01", "03", "08"):
                    n += 1
        return n

    def wait_no_conns(self):
        deadline = time.monotonic() + IO_TIMEOUT
        while self.server_conns():
            if time.monotonic() > deadline:
                raise Failed("the server still holds %d connections" % self.server_conns())
            time.sleep(0.05)

    # --- the checks

    def pipelined(self):
        # Mostly hN (a distinct address each), with NXDOMAIN, the big RRset, a CNAME,
        # REFUSED, NODATA and the SOA in between.
        special = {3: ("nothere", "A"), 7: ("big", "TXT"), 10: ("alias", "A"),
                   13: ("www.example.", "A"), 16: ("www", "TXT"), 18: ("@", "SOA")}
        qs = [special.get(i, ("h%d" % i, "A")) + (1000 + i, {}) for i in range(20)]
        c = Conn(self.server)
        try:
            self.exchange(c, qs)
            c.expect_quiet(0.3)
        finally:
            c.close()
        return "20 answers in order"

    def trickle(self):
        c = Conn(self.server)
        try:
            wire = frame(query(self.zone, "www", "A", 2001).to_wire())
            for b in wire:
                c.send(bytes([b]))
                time.sleep(0.005)
            judge(self.zone, "www", "A", 2001, c.read_msg())
            two = frame(query(self.zone, "h5", "A", 2002).to_wire()) + \
                frame(query(self.zone, "mail", "MX", 2003).to_wire())
            first = len(two) - len(frame(query(self.zone, "mail", "MX", 2003).to_wire()))
            # inside the first prefix, inside the first message, across the boundary
            # (end of the first + first byte of the second prefix), the rest
            for a, b in [(0, 1), (1, 17), (17, first + 1), (first + 1, len(two))]:
                c.send(two[a:b])
                time.sleep(0.05)
            judge(self.zone, "h5", "A", 2002, c.read_msg())
            judge(self.zone, "mail", "MX", 2003, c.read_msg())
        finally:
            c.close()
        return "one byte at a time; two queries cut at 1, 17, %d" % (first + 1)

    def big(self):
        c = Conn(self.server)
        try:
            c.send(frame(query(self.zone, "big", "TXT", 3001).to_wire()))
            wire = c.read_msg()
            if wire is None:
                raise Failed("EOF instead of the answer")
            judge(self.zone, "big", "TXT", 3001, wire)
            if len(wire) <= 16384:
                raise Failed("answer of %d bytes: the RRset should exceed 16 KiB" % len(wire))
        finally:
            c.close()
        return "%d TXT records, %d bytes" % (BIG_RRS, len(wire))

    def slow_reader(self):
        # More than the server's send buffer can ever hold (autotuned up to tcp_wmem's
        # maximum), so the server has to wait for the socket whatever the sysctls.
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
        n = wmem_max // BIG_WIRE + 10
        before = self.tcp_stats()
        c = Conn(self.server, rcvbuf=4096)
        try:
            c.send(b"".join(frame(query(self.zone, "big", "TXT", 4000 + i).to_wire())
                            for i in range(n)))
            time.sleep(2)  # the window closes; the server must wait for POLLOUT
            waited = ""
            if before is not None:
                during = self.tcp_stats()
                written = during["tx"] - before["tx"]
                # A precondition of the check itself: without it nothing was partial.
                if written >= n:
                    raise Failed("all %d answers were written while the client did not "
                                 "read: the check did not exercise partial writes" % n)
                waited = ", %d of %d written before the client read" % (written, n)
            for i in range(n):
                wire = c.read_msg(chunk=2048)
                if wire is None:
                    raise Failed("EOF after %d of %d answers" % (i, n))
                judge(self.zone, "big", "TXT", 4000 + i, wire)
                time.sleep(0.01)
                if i == n // 2:
                    time.sleep(1.5)
        finally:
            c.close()
        return "%d answers of ~%d KB, complete and in order%s" % (n, BIG_WIRE // 1000, waited)

    def half_close(self):
        c = Conn(self.server)
        try:
            qs = [("h1", "A", 5001, {}), ("big", "TXT", 5002, {}), ("h2", "A", 5003, {})]
            c.send(b"".join(frame(query(self.zone, r, t, i).to_wire()) for r, t, i, _ in qs))
            c.s.shutdown(socket.SHUT_WR)
            for r, t, i, _ in qs:
                wire = c.read_msg()
                if wire is None:
                    raise Failed("EOF before the answer to %s %s" % (r, t))
                judge(self.zone, r, t, i, wire)
            dt = c.expect_eof(CLOSE_SOON)
        finally:
            c.close()
        return "3 answers, then EOF after %.2f s" % dt

    def _closes(self, payload, first=None):
        """Send payload (after an optional good query); the good one is answered, then
        the connection is closed with nothing for payload. Returns seconds to EOF."""
        c = Conn(self.server)
        try:
            head = frame(query(self.zone, first, "A", 6000).to_wire()) if first else b""
            c.send(head + payload)
            if first:
                wire = c.read_msg()
                if wire is None:
                    raise Failed("EOF before the answer to the query sent first")
                judge(self.zone, first, "A", 6000, wire)
            return c.expect_eof(CLOSE_SOON)
        finally:
            c.close()

    def bad_message(self):
        response = dns.message.make_response(query(self.zone, "www", "A", 6001)).to_wire()
        after = frame(query(self.zone, "h3", "A", 6002).to_wire())
        out = []
        t = self._closes(b"\0\0" + after, first="h1")
        out.append("zero length %.2f s" % t)
        s0 = self.tcp_stats()
        t = self._closes(frame(response) + after, first="h2")
        out.append("QR=1 %.2f s" % t)
        s1 = self.tcp_stats()
        t = self._closes(frame(b"\x12\x34\x01\x00\0\0\0\0\0\0\0"))
        out.append("11 bytes %.2f s" % t)
        s2 = self.tcp_stats()
        if s0 is not None:
            d1, d2 = s1["dropped"] - s0["dropped"], s2["dropped"] - s1["dropped"]
            if (d1, d2) != (1, 1):
                raise Failed("dropped grew by %d for QR=1 and %d for 11 bytes, expected 1 "
                             "and 1" % (d1, d2))
            out.append("each counted in dropped")
        return "closed, no answer: " + ", ".join(out)

    def transfer(self):
        c = Conn(self.server)
        try:
            qs = [("@", "AXFR", 7001), ("@", "IXFR", 7002)]
            c.send(b"".join(frame(query(self.zone, r, t, i).to_wire()) for r, t, i in qs))
            for r, t, i in qs:
                wire = c.read_msg()
                if wire is None:
                    raise Failed("EOF instead of the %s answer" % t)
                m = dns.message.from_wire(wire)
                if m.id != i or m.rcode() != TRANSFER_RCODE or m.answer or \
                        not m.flags & dns.flags.QR:
                    raise Failed("%s: id %d rcode %s, %d answer RRsets"
                                 % (t, m.id, dns.rcode.to_text(m.rcode()), len(m.answer)))
            self.exchange(c, [("www", "A", 7003, {})])
        finally:
            c.close()
        return "AXFR and IXFR %s, connection still answers" % dns.rcode.to_text(
            TRANSFER_RCODE)

    def udp_tcp(self):
        names = [("www", "A"), ("www", "AAAA"), ("www", "TXT"), ("alias", "A"),
                 ("mail", "MX"), ("nothere", "A"), ("@", "SOA"), ("@", "NS"),
                 ("@", "ANY"), ("WwW", "A"), ("h7", "A"), ("www.example.", "A")]
        variants = [{"use_edns": False}, {"use_edns": 0, "payload": 1232},
                    {"use_edns": 0, "payload": 4096, "want_dnssec": True}]
        qs = [(q, kw) for q in names for kw in variants]
        qs.append((("id.server.", "TXT"), {"use_edns": 0, "rdclass": dns.rdataclass.CH}))
        big = [(("big", "TXT"), kw) for kw in variants]
        c = Conn(self.server)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(IO_TIMEOUT)
        try:
            def both(i, rel, qt, kw):
                m = query(self.zone, rel, qt, 8000 + i, **kw)
                u.sendto(m.to_wire(), self.server)
                mu = dns.message.from_wire(u.recv(65535))
                c.send(frame(m.to_wire()))
                wire = c.read_msg()
                if wire is None:
                    raise Failed("EOF on TCP")
                return mu, dns.message.from_wire(wire)

            def norm(m):
                secs = [sorted(r.to_text() for r in s) for s in (m.answer, m.authority,
                                                                  m.additional)]
                return (m.id, m.flags & ~dns.flags.TC, m.rcode(), m.edns, m.payload,
                        m.ednsflags, [o.to_text() for o in m.options],
                        [q.to_text() for q in m.question], secs)
            for i, ((rel, qt), kw) in enumerate(qs):
                mu, mt = both(i, rel, qt, kw)
                if mu.flags & dns.flags.TC or mt.flags & dns.flags.TC:
                    raise Failed("%s %s %s: TC set" % (rel, qt, kw))
                if norm(mu) != norm(mt):
                    raise Failed("%s %s %s: UDP %s\nTCP %s" % (rel, qt, kw, norm(mu),
                                                               norm(mt)))
            for j, ((rel, qt), kw) in enumerate(big):
                mu, mt = both(len(qs) + j, rel, qt, kw)
                judge(self.zone, rel, qt, mt.id, mt.to_wire())
                if not mu.flags & dns.flags.TC or len(answer_set(mu)) >= BIG_RRS:
                    raise Failed("big TXT %s over UDP: TC %s, %d records"
                                 % (kw, bool(mu.flags & dns.flags.TC), len(answer_set(mu))))
                mu.flags &= ~dns.flags.TC
                mu.answer = mt.answer = []  # what fits over UDP differs; nothing else
                if norm(mu) != norm(mt):
                    raise Failed("big TXT %s: UDP %s\nTCP %s" % (kw, norm(mu), norm(mt)))
        finally:
            c.close()
            u.close()
        return "%d queries the same; big TXT TC over UDP, whole over TCP" % len(qs)

    def cap(self):
        total = CAP + 14
        self.wait_no_conns()  # everything before has been closed on the server side too
        conns = [Conn(self.server) for _ in range(total)]
        try:
            closed = self._sort_closed(conns, total - CAP)
            usable = [c for c in conns if c not in closed]
            for k, c in enumerate(usable):
                self.exchange(c, [("h%d" % (k % HOSTS), "A", k, {})])
            if len(closed) != total - CAP:
                raise Failed("%d of %d closed by the server, expected %d (all %d usable)"
                             % (len(closed), total, total - CAP, len(usable)))
        finally:
            for c in conns:
                c.close()
        self.wait_no_conns()
        again = [Conn(self.server) for _ in range(CAP)]
        try:
            closed = self._sort_closed(again, 0)
            if closed:
                raise Failed("after all were closed, %d of %d new connections were closed"
                             % (len(closed), CAP))
            for k, c in enumerate(again):
                self.exchange(c, [("h%d" % (k % HOSTS), "A", k, {})])
        finally:
            for c in again:
                c.close()
        return "%d usable, %d closed by the server; then %d new ones usable" % (
            CAP, total - CAP, CAP)

    @staticmethod
    def _sort_closed(conns, expected):
        """The connections the server closes at once: wait until `expected` are (at most
        CLOSE_SOON, well before the idle timeout would close them all), then 0.5 s more
        in case it closes too many. Data on any is a failure."""
        closed = set()
        deadline = time.monotonic() + CLOSE_SOON
        settle = None
        while True:
            now = time.monotonic()
            if settle is None and len(closed) >= expected:
                settle = now + 0.5
            if (settle is not None and now >= settle) or now >= deadline:
                return closed
            open_ = [c for c in conns if c not in closed]
            r, _, _ = select.select([c.s for c in open_], [], [], 0.05)
            for c in open_:
                if c.s in r:
                    try:
                        data = c.s.recv(1)
                    except ConnectionResetError:
                        data = b""
                    if data:
                        raise Failed("data on a connection that sent nothing")
                    closed.add(c)


class Idle(threading.Thread):
    """A connection left idle: after connecting (silent), after one answer (answered),
    or with one byte of a length prefix sent (stalled). Measures when the server closes."""

    def __init__(self, checker, mode):
        super().__init__(daemon=True)
        self.checker, self.mode = checker, mode
        self.error = self.secs = None
        self.conn = Conn(checker.server)

    def run(self):
        try:
            ck, c = self.checker, self.conn
            if self.mode == "answered":
                ck.exchange(c, [("www", "A", 9001, {})])
            elif self.mode == "stalled":
                c.send(b"\0")
            self.secs = c.expect_eof(40)
        except Exception as e:  # noqa: BLE001 (reported by the idle check)
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self.conn.close()


def run(args):
    ck = Checker(args)
    idle = [Idle(ck, m) for m in ("silent", "answered", "stalled")]
    for t in idle:
        t.start()
    ck.run("pipelined: 20 queries in one write", ck.pipelined)
    ck.run("trickle: partial writes by the client", ck.trickle)
    ck.run("big: TXT RRset over 16 KiB", ck.big)
    ck.run("slow-reader", ck.slow_reader)
    ck.run("half-close", ck.half_close)
    ck.run("bad-message", ck.bad_message)
    ck.run("transfer: AXFR/IXFR over TCP", ck.transfer)
    ck.run("udp-tcp: same answers", ck.udp_tcp)

    def idle_check():
        out = []
        for t in idle:
            t.join(60)
            if t.is_alive() or t.error:
                raise Failed("%s: %s" % (t.mode, t.error or "no result"))
            if not 5 < t.secs < 20:
                raise Failed("%s: closed after %.1f s, expected 5 .. 20 s" % (t.mode, t.secs))
            out.append("%s %.1f s" % (t.mode, t.secs))
        return "closed by the server: " + ", ".join(out)
    ck.run("idle: connections closed after the timeout", idle_check)
    ck.run("cap: %d connections" % CAP, ck.cap)
    print("%d failed" % ck.failures)
    return 1 if ck.failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    z = sub.add_parser("zone", help="print the test zone")
    z.add_argument("origin")
    r = sub.add_parser("run", help="run every check")
    r.add_argument("--server", required=True, help="ADDR:PORT (IPv4)")
    r.add_argument("--origin", required=True)
    r.add_argument("--pharosctl", help="pharosctl, to read the TCP counters")
    r.add_argument("--control-socket", help="operator socket for --pharosctl")
    args = ap.parse_args()
    if args.cmd == "zone":
        sys.stdout.write(zone_text(args.origin))
        return 0
    if bool(args.pharosctl) != bool(args.control_socket):
        ap.error("--pharosctl and --control-socket go together")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
