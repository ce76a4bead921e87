#!/usr/bin/python3
"""Query a zone without pause while it is being swapped, and check every answer.

Sends sequential UDP queries (SOA of the apex, then TXT of serial.<origin>, in turn), each
with its own timeout, until the stop file appears (or --max-seconds pass). Every answer must
be complete and carry one of the expected serials: NOERROR, AA, QR, the ID and question of
the query, exactly one SOA (for SOA) whose serial is expected, or exactly one TXT
"serial=N" (for TXT) with an expected N. A query without an answer in time is lost.

Prints the counts, and exits 0 only when nothing was lost or wrong and every expected serial
was seen at least once. Needs dnspython (/usr/bin/python3 with python3-dnspython).
"""

import argparse
import os
import socket
import struct
import sys
import time

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdatatype
except ImportError as e:  # pragma: no cover
    sys.stderr.write("swapclient: dnspython missing (%s)\n" % e)
    sys.exit(77)


def check(resp_wire, qid, qname, qtype, serials):
    """The serial an answer carries, or raise ValueError saying what is wrong."""
    m = dns.message.from_wire(resp_wire)
    if m.id != qid:
        raise ValueError("ID %d, expected %d" % (m.id, qid))
    if m.rcode() != dns.rcode.NOERROR:
        raise ValueError("rcode %s" % dns.rcode.to_text(m.rcode()))
    if not (m.flags & dns.flags.QR and m.flags & dns.flags.AA) or m.flags & dns.flags.TC:
        raise ValueError("flags %s" % dns.flags.to_text(m.flags))
    if len(m.question) != 1 or m.question[0].name != qname or m.question[0].rdtype != qtype:
        raise ValueError("question %s" % m.question)
    if len(m.answer) != 1 or len(m.answer[0]) != 1 or m.answer[0].rdtype != qtype:
        raise ValueError("answer %s" % [r.to_text() for r in m.answer])
    rd = m.answer[0][0]
    if qtype == dns.rdatatype.SOA:
        serial = rd.serial
    else:
        text = b"".join(rd.strings).decode()
        if not text.startswith("serial="):
            raise ValueError("TXT %r" % text)
        serial = int(text[7:])
    if serial not in serials:
        raise ValueError("serial %d not one of %s" % (serial, sorted(serials)))
    return serial


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True, help="HOST:PORT (IPv4)")
    ap.add_argument("--origin", required=True)
    ap.add_argument("--serials", required=True, help="comma-separated expected serials")
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--ready-file", help="created once the first answer came back")
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()

    host, _, port = args.server.rpartition(":")
    addr = (host, int(port))
    serials = {int(s) for s in args.serials.split(",")}
    origin = dns.name.from_text(args.origin)
    kinds = [(origin, dns.rdatatype.SOA),
             (dns.name.from_text("serial", origin), dns.rdatatype.TXT)]
    wires = [dns.message.make_query(n, t, use_edns=False).to_wire() for n, t in kinds]

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(addr)
    sent = lost = wrong = 0
    seen = {s: 0 for s in serials}
    errors = []
    qid = 0
    t_end = time.monotonic() + args.max_seconds
    while not os.path.exists(args.stop_file):
        if time.monotonic() > t_end:
            errors.append("gave up after %.0f s without a stop file" % args.max_seconds)
            break
        k = sent % 2
        qid = (qid + 1) & 0xFFFF
        wire = struct.pack("!H", qid) + wires[k][2:]
        sent += 1
        sock.send(wire)
        deadline = time.monotonic() + args.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                lost += 1
                errors.append("query %d (%s %s): no answer in %.1f s" % (
                    sent, kinds[k][0], dns.rdatatype.to_text(kinds[k][1]), args.timeout))
                break
            sock.settimeout(left)
            try:
                data = sock.recv(65535)
            except socket.timeout:
                continue
            except ConnectionRefusedError:
                lost += 1
                errors.append("query %d: connection refused (nothing listening)" % sent)
                time.sleep(min(left, 0.05))
                break
            if len(data) >= 2 and struct.unpack("!H", data[:2])[0] != qid:
                continue  # a late answer to an earlier, already counted, query
            try:
                seen[check(data, qid, kinds[k][0], kinds[k][1], serials)] += 1
                if args.ready_file and not os.path.exists(args.ready_file):
                    open(args.ready_file, "w").close()
            except (ValueError, dns.exception.DNSException) as e:
                wrong += 1
                errors.append("query %d: %s" % (sent, e))
            break

    for e in errors[:20]:
        print("swapclient: " + e)
    if len(errors) > 20:
        print("swapclient: ... and %d more" % (len(errors) - 20))
    print("swapclient: %d queries, %d answered correctly, %d lost, %d wrong; per serial: %s" % (
        sent, sent - lost - wrong, lost, wrong,
        ", ".join("%d: %d" % (s, n) for s, n in sorted(seen.items()))))
    ok = not errors and all(n > 0 for n in seen.values())
    if not errors and not ok:
        print("swapclient: not every serial was seen")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
