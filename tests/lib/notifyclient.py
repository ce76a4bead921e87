#!/usr/bin/python3
"""NOTIFY (RFC 1996) and query client for tests/integration/notify-relay.sh.

    notifyclient.py udp  --server ADDR --port N [--bind ADDR] --expect answer|notauth|none
    notifyclient.py tcp  --server ADDR --port N --zone ORIGIN --expect answer|notauth|none|big
    notifyclient.py query --server ADDR --port N --name NAME --rcode RCODE [--ede CODE]

udp: one NOTIFY for --zone from a fresh socket bound to --bind; prints
`sent SRC_ADDR SRC_PORT ID`, then checks the reply: `answer` = what tests/dataplane/ipc_peer
answers (same ID, opcode NOTIFY, QR+AA, NOERROR, the question echoed), `notauth` = the
dataplane's own answer without a subscriber (NOTAUTH, no AA), `none` = nothing within 4.5 s
(the relay forgets a NOTIFY after 3 s). The reply must come from the address and port the
NOTIFY was sent to.

tcp: one connection, one write holding a NOTIFY and then a SOA query (pipelined); prints
`sent SRC_ADDR SRC_PORT ID`. `answer`/`notauth`: the NOTIFY's response comes first, then the
SOA answer. `none`: only the SOA answer comes, after the relay gave up on the NOTIFY.
`big`: the NOTIFY is padded past 4096 bytes (EDNS padding), which the relay skips at once:
only the SOA answer comes, without the relay's wait.

query: one query with EDNS (UDP); checks the RCODE, that AA is clear for SERVFAIL, and with
--ede that the OPT record carries that Extended DNS Error.

Exit 0 when every check passed; otherwise one line saying what was wrong, exit 1.
"""

import argparse
import socket
import struct
import sys
import time

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype


def die(msg):
    print("FAIL " + msg, file=sys.stderr)
    sys.exit(1)


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def make_notify(zone):
    q = dns.message.make_query(zone, "SOA")
    q.flags = dns.flags.AA  # RFC 1996 3.7: AA set, RD clear
    q.set_opcode(dns.opcode.NOTIFY)
    return q


def check_notify_response(q, r, expect, how):
    if r.id != q.id:
        die(f"{how}: response ID {r.id}, NOTIFY ID {q.id}")
    if r.opcode() != dns.opcode.NOTIFY:
        die(f"{how}: opcode {dns.opcode.to_text(r.opcode())}, expected NOTIFY")
    if not r.flags & dns.flags.QR:
        die(f"{how}: QR not set")
    rcode = dns.rcode.to_text(r.rcode())
    aa = bool(r.flags & dns.flags.AA)
    if expect == "answer" and (rcode != "NOERROR" or not aa):
        die(f"{how}: {rcode} AA={aa}, expected the peer's NOERROR with AA")
    if expect == "notauth" and (rcode != "NOTAUTH" or aa):
        die(f"{how}: {rcode} AA={aa}, expected the dataplane's own NOTAUTH without AA")
    if r.question != q.question:
        die(f"{how}: question not echoed: {r.question}")


def cmd_udp(a):
    q = make_notify(a.zone)
    s = socket.socket(family(a.server), socket.SOCK_DGRAM)
    s.bind((a.bind or a.server, 0))
    src = s.getsockname()
    print(f"sent {src[0]} {src[1]} {q.id}", flush=True)
    s.sendto(q.to_wire(), (a.server, a.port))
    s.settimeout(4.5 if a.expect == "none" else 5.0)
    try:
        data, frm = s.recvfrom(65535)
    except socket.timeout:
        if a.expect == "none":
            return
        die("udp: no response within 5 s")
    if a.expect == "none":
        die(f"udp: a response came for a NOTIFY that nobody answered: {len(data)} bytes")
    if (frm[0], frm[1]) != (a.server, a.port):
        die(f"udp: response from {frm[0]} port {frm[1]}, NOTIFY sent to {a.server} port {a.port}")
    check_notify_response(q, dns.message.from_wire(data), a.expect, "udp")


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            die(f"tcp: connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def recv_msg(s):
    (n,) = struct.unpack("!H", recv_exact(s, 2))
    return dns.message.from_wire(recv_exact(s, n))


def cmd_tcp(a):
    q = make_notify(a.zone)
    if a.expect == "big":
        q.use_edns(0, options=[dns.edns.GenericOption(12, b"\0" * 4200)])
    soa = dns.message.make_query(a.zone, "SOA")
    soa.flags = 0
    s = socket.create_connection((a.server, a.port), timeout=8)
    src = s.getsockname()
    print(f"sent {src[0]} {src[1]} {q.id}", flush=True)
    wire = b""
    for m in (q, soa):
        w = m.to_wire(max_size=65535)
        wire += struct.pack("!H", len(w)) + w
    start = time.monotonic()
    s.sendall(wire)
    first = recv_msg(s)
    if a.expect == "big":
        if first.id != soa.id or time.monotonic() - start > 2:
            die(f"tcp: an oversize NOTIFY got ID {first.id} first, or the query waited")
        second = first
    elif a.expect == "none":
        if first.id != soa.id or first.opcode() != dns.opcode.QUERY:
            die(f"tcp: a response came for a NOTIFY that nobody answered (ID {first.id})")
        waited = time.monotonic() - start
        if waited < 2.5:
            die(f"tcp: the query after the NOTIFY was answered after {waited:.1f} s, "
                "before the relay gave up on the NOTIFY (order not kept)")
        second = first
    else:
        check_notify_response(q, first, a.expect, "tcp")
        second = recv_msg(s)
    if second.id != soa.id or dns.rcode.to_text(second.rcode()) != "NOERROR":
        die(f"tcp: second response ID {second.id} {dns.rcode.to_text(second.rcode())}, "
            f"expected the SOA answer {soa.id} NOERROR")
    if not any(rr.rdtype == dns.rdatatype.SOA for rr in second.answer):
        die("tcp: the SOA answer has no SOA")
    s.close()


def cmd_query(a):
    q = dns.message.make_query(a.name, "SOA", use_edns=0)
    q.flags = 0
    s = socket.socket(family(a.server), socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q.to_wire(), (a.server, a.port))
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        die(f"query {a.name}: no response")
    r = dns.message.from_wire(data)
    rcode = dns.rcode.to_text(r.rcode())
    if rcode != a.rcode:
        die(f"query {a.name}: {rcode}, expected {a.rcode}")
    if rcode == "SERVFAIL" and (r.flags & dns.flags.AA or r.answer or r.authority):
        die(f"query {a.name}: SERVFAIL with AA or records")
    edes = [o.code for o in r.options if o.otype == dns.edns.EDE]
    if a.ede is not None and edes != [a.ede]:
        die(f"query {a.name}: EDE {edes}, expected [{a.ede}]")
    if a.ede is None and edes:
        die(f"query {a.name}: unexpected EDE {edes}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["udp", "tcp", "query"])
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bind")
    p.add_argument("--zone", default="one.test.")
    p.add_argument("--expect", choices=["answer", "notauth", "none", "big"])
    p.add_argument("--name")
    p.add_argument("--rcode")
    p.add_argument("--ede", type=int)
    a = p.parse_args()
    {"udp": cmd_udp, "tcp": cmd_tcp, "query": cmd_query}[a.cmd](a)


if __name__ == "__main__":
    main()
