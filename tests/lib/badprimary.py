#!/usr/bin/python3
"""A scripted primary for the tests: serves one zone over UDP and TCP on loopback, well or
in one of the broken ways a real primary can be broken (issue 4, point 7).

    /usr/bin/python3 badprimary.py --port 5399 --zone example.com. --file example.zone \
        [--addr 127.0.0.1] [--control CTL] [--mode MODE] [--key NAME:ALG:SECRET] \
        [--per-message 20] [--oversize-records 20000] [--pidfile F]

It prints "ready" on stdout once both sockets listen. It answers SOA queries (UDP, and TCP),
AXFR and IXFR (TCP). Records go out --per-message to a message, so transfers are
multi-message. With --key, queries must be signed with that key (else NOTAUTH, unsigned) and
every answer is signed (RFC 8945, multi-message).

The control file (--control), re-read at every query, lets a test switch the primary while
it runs (first a good transfer, then a bad one). One setting a line, '#' for comments:
    mode MODE          as --mode
    serial N           the zone's SOA serial (default: the file's)
    add RR             one more record, e.g. "add new 3600 IN A 192.0.2.77" (relative
                       names are below the zone); any number of lines
Every (serial, content) served is remembered, so an IXFR from a serial seen before is
answered with a real difference sequence; from an unknown serial with the whole zone.

Modes:
    good          correct answers
    garbage       transfers get a length-prefixed message of random bytes
    truncated     AXFR/IXFR: every record but the closing SOA, then the connection closes
    outside       AXFR/IXFR: the zone plus "intruder.example.net. A" (outside the zone)
    badtsig       transfers signed with another secret under the same key name (the SOA
                  check is signed well)
    oversize      AXFR/IXFR: --oversize-records extra TXT records (for size limits)
    backwards     the serial served (SOA and transfers) is the control serial - 10
    drop          half the records of a transfer, then the connection is reset (RST)
    ixfr-refused  IXFR gets REFUSED; AXFR is good
    ixfr-full     IXFR is answered with the whole zone (AXFR-style); AXFR is good
    silent        TCP connections are accepted and never answered; UDP is not answered
    udp-tc        UDP answers are empty with TC set (the SOA check must retry over TCP);
                  the rest is good
    sparse-tsig   with --key: transfers sign only every third message and the last (the
                  unsigned ones enter the next MAC, RFC 8945 5.3.1); otherwise good
"""
import argparse
import base64
import os
import random
import socket
import struct
import sys
import threading

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.zone

from dnscompare import recv_exact  # tests/lib, next to this file

MODES = ('good', 'garbage', 'truncated', 'outside', 'badtsig', 'oversize', 'backwards',
         'drop', 'ixfr-refused', 'ixfr-full', 'silent', 'udp-tc', 'sparse-tsig')


def notauth(wire):
    """NOTAUTH to a query whose TSIG we refuse: header and question copied, no TSIG."""
    if len(wire) < 12:
        return None
    i = 12
    while i < len(wire) and wire[i] != 0:
        i += 1 + wire[i]
    if i + 5 > len(wire):
        return None
    return wire[:2] + bytes([0x84 | (wire[2] & 0x79), 0x09]) + b'\x00\x01' + b'\x00' * 6 + \
        wire[12:i + 5]


class Primary:
    def __init__(self, a):
        self.a = a
        self.origin = dns.name.from_text(a.zone)
        z = dns.zone.from_file(a.file, origin=self.origin, relativize=False)
        self.base = []
        for name, ttl, rd in z.iterate_rdatas():
            if rd.rdtype == dns.rdatatype.SOA:
                self.soa = (name, ttl, rd)
            else:
                self.base.append((name.to_text(), ttl, rd.rdtype, rd.to_text()))
        self.history = {}
        self.lock = threading.Lock()
        self.key = self.badkey = None
        if a.key:
            name, alg, secret = a.key.split(':', 2)
            self.key = dns.tsig.Key(name, secret, alg)
            other = base64.b64encode(b'not-the-secret-' + secret.encode()[:16]).decode()
            self.badkey = dns.tsig.Key(name, other, alg)

    def settings(self):
        """mode, serial, extra records from the control file (or the options)."""
        mode, serial, extra = self.a.mode, self.soa[2].serial, []
        if self.a.control and os.path.exists(self.a.control):
            with open(self.a.control) as f:
                for line in f:
                    line = line.split('#', 1)[0].strip()
                    if not line:
                        continue
                    word, _, rest = line.partition(' ')
                    if word == 'mode':
                        mode = rest.strip()
                    elif word == 'serial':
                        serial = int(rest)
                    elif word == 'add':
                        extra.append(rest.strip())
        if mode not in MODES:
            sys.stderr.write('badprimary: unknown mode %r, serving good\n' % mode)
            mode = 'good'
        return mode, serial, extra

    def version(self):
        """(mode, serial, soa rdata, records) now; remembers the version for IXFR."""
        mode, serial, extra = self.settings()
        if mode == 'backwards':
            serial = (serial - 10) % 2**32
        recs = list(self.base)
        for text in extra:
            rr = dns.rrset.from_text(*self.split_rr(text))
            for rd in rr:
                recs.append((rr.name.to_text(), rr.ttl, rd.rdtype, rd.to_text()))
        soa = self.soa[2].replace(serial=serial)
        with self.lock:
            self.history[serial] = (soa, recs)
        return mode, serial, soa, recs

    def split_rr(self, text):
        parts = text.split()
        name = dns.name.from_text(parts[0], self.origin)
        i = 1
        ttl = 3600
        if parts[i].isdigit():
            ttl = int(parts[i])
            i += 1
        if parts[i].upper() == 'IN':
            i += 1
        return (name, ttl, 'IN', parts[i], ' '.join(parts[i + 1:]))

    def rrset(self, rec):
        name, ttl, rdtype, text = rec
        return dns.rrset.from_text(name, ttl, 'IN', rdtype, text)

    def soa_rrset(self, soa):
        rs = dns.rrset.RRset(self.origin, dns.rdataclass.IN, dns.rdatatype.SOA)
        rs.add(soa, self.soa[1])
        return rs

    # ---- answers ----

    def parse(self, wire):
        """(query, None), or (None, NOTAUTH answer wire or None) when it is refused."""
        ring = {self.key.name: self.key} if self.key else None
        try:
            q = dns.message.from_wire(wire, keyring=ring)
        except Exception:
            return None, notauth(wire)
        if self.key and not q.had_tsig:
            return None, notauth(wire)
        return q, None

    def response(self, q, rcode=dns.rcode.NOERROR, xfr=False):
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        r.set_rcode(rcode)
        if self.key and self.mode == 'badtsig' and xfr:
            r.use_tsig(self.badkey, self.key.name, algorithm=self.key.algorithm)
            r.request_mac = q.mac
        return r

    def soa_answer(self, q):
        mode, serial, soa, recs = self.version()
        self.mode = mode
        r = self.response(q)
        if q.question[0].name != self.origin:
            r.set_rcode(dns.rcode.NOTAUTH)
            r.flags &= ~dns.flags.AA
        else:
            r.answer.append(self.soa_rrset(soa))
        return r

    def records(self, q, mode, soa, recs):
        """The answer's records for AXFR or IXFR."""
        qt = q.question[0].rdtype
        soa_rs = self.soa_rrset(soa)
        full = [soa_rs] + [self.rrset(x) for x in recs]
        if mode == 'outside':
            full.append(dns.rrset.from_text('intruder.example.net.', 3600, 'IN', 'A',
                                            '192.0.2.66'))
        if mode == 'oversize':
            if not hasattr(self, 'big'):
                txt = dns.rdata.from_text('IN', 'TXT', '"%s"' % ('x' * 200))
                self.big = []
                for i in range(self.a.oversize_records):
                    rs = dns.rrset.RRset(dns.name.Name(('big%d' % i,)).concatenate(
                        self.origin), dns.rdataclass.IN, dns.rdatatype.TXT)
                    rs.add(txt, 3600)
                    self.big.append(rs)
            full.extend(self.big)
        if qt == dns.rdatatype.IXFR and mode not in ('ixfr-full', 'outside', 'oversize'):
            theirs = None
            for rs in q.authority:
                if rs.rdtype == dns.rdatatype.SOA:
                    theirs = rs[0].serial
            if theirs == soa.serial:
                return [soa_rs]
            with self.lock:
                old = self.history.get(theirs)
            if old is not None:
                osoa, orecs = old
                dels = [x for x in orecs if x not in recs]
                adds = [x for x in recs if x not in orecs]
                return ([soa_rs, self.soa_rrset(osoa)] + [self.rrset(x) for x in dels] +
                        [soa_rs] + [self.rrset(x) for x in adds] + [soa_rs])
        return full + [soa_rs]

    def xfr(self, q, send, sock):
        mode, serial, soa, recs = self.version()
        self.mode = mode
        qt = q.question[0].rdtype
        if q.question[0].name != self.origin:
            return send(self.response(q, dns.rcode.NOTAUTH).to_wire())
        if mode == 'silent':
            threading.Event().wait(3600)
        if mode == 'garbage':
            blob = bytes(random.getrandbits(8) for _ in range(40))
            return send(blob)
        if qt == dns.rdatatype.IXFR and mode == 'ixfr-refused':
            return send(self.response(q, dns.rcode.REFUSED).to_wire())
        rrs = self.records(q, mode, soa, recs)
        if mode == 'truncated':
            rrs = rrs[:-1]
        if mode == 'drop':
            rrs = rrs[:max(1, len(rrs) // 2)]
        n = self.a.per_message if mode != 'oversize' else max(self.a.per_message, 200)
        chunks = [rrs[i:i + n] for i in range(0, len(rrs), n)] or [[]]
        ctx = None
        for i, c in enumerate(chunks):
            r = self.response(q, xfr=True)
            if i > 0:
                r.question = []
            r.answer = c
            if (r.had_tsig or r.keyring) and mode == 'sparse-tsig' and ctx is not None \
                    and i % 3 and i != len(chunks) - 1:
                r.tsig = None
                r.keyring = None
                wire = r.to_wire()
                ctx.update(wire)
            elif r.had_tsig or r.keyring:
                wire = r.to_wire(multi=True, tsig_ctx=ctx)
                ctx = r.tsig_ctx
            else:
                wire = r.to_wire()
            send(wire)
        if mode == 'drop':
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            return 'close'
        if mode == 'truncated':
            return 'close'
        return None

    # ---- sockets ----

    def udp(self, s):
        while True:
            wire, peer = s.recvfrom(65535)
            mode = self.settings()[0]
            if mode == 'silent':
                continue
            q, err = self.parse(wire)
            if q is None:
                if err:
                    s.sendto(err, peer)
                continue
            try:
                r = self.soa_answer(q)
                w = r.to_wire()
                if len(w) > 512 or mode == 'udp-tc':
                    r = self.response(q)
                    r.flags |= dns.flags.TC
                    w = r.to_wire()
                s.sendto(w, peer)
            except Exception as e:  # keep serving
                sys.stderr.write('badprimary: udp: %r\n' % e)

    def tcp_conn(self, c):
        def send(w):
            c.sendall(struct.pack('!H', len(w)) + w)

        try:
            while True:
                lb = recv_exact(c, 2)
                if lb is None:
                    break
                wire = recv_exact(c, struct.unpack('!H', lb)[0])
                if wire is None:
                    break
                q, err = self.parse(wire)
                if q is None:
                    if err:
                        send(err)
                    break
                qt = q.question[0].rdtype if q.question else None
                if qt in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
                    if self.xfr(q, send, c) == 'close':
                        break
                else:
                    send(self.soa_answer(q).to_wire())
        except Exception as e:
            sys.stderr.write('badprimary: tcp: %r\n' % e)
        finally:
            c.close()

    def tcp(self, s):
        while True:
            c, _ = s.accept()
            threading.Thread(target=self.tcp_conn, args=(c,), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--addr', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--zone', required=True)
    ap.add_argument('--file', required=True)
    ap.add_argument('--control')
    ap.add_argument('--mode', default='good', choices=MODES)
    ap.add_argument('--key')
    ap.add_argument('--per-message', type=int, default=20)
    ap.add_argument('--oversize-records', type=int, default=20000)
    ap.add_argument('--pidfile')
    a = ap.parse_args()
    p = Primary(a)
    p.mode = a.mode
    fam = socket.AF_INET6 if ':' in a.addr else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind((a.addr, a.port))
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((a.addr, a.port))
    t.listen(16)
    if a.pidfile:
        with open(a.pidfile, 'w') as f:
            f.write('%d\n' % os.getpid())
    threading.Thread(target=p.udp, args=(u,), daemon=True).start()
    print('ready', flush=True)
    p.tcp(t)


if __name__ == '__main__':
    main()
