#!/usr/bin/python3
"""Helper of bench/xfr: run a command that changes the primary's zone (knotc zone-commit),
and poll the primary and every secondary with SOA queries (UDP, every 0.5 ms each) until it
serves the new serial (the primary's + 1: knotd's serial-policy increment); print one line
per server, "primary MS" included: "NAME MS" (milliseconds from the start of the command),
or "NAME timeout"; then "serial N".

    /usr/bin/python3 xfr-poll.py --zone big.test. --primary 5501 \
        --server pharos=5502 --server knot=5503 [--timeout 30] -- knotc ... zone-commit ...
"""
import argparse
import select
import socket
import subprocess
import sys
import time

import dns.message
import dns.rdatatype


def soa_serial(sock, zone, port, timeout):
    q = dns.message.make_query(zone, dns.rdatatype.SOA)
    sock.sendto(q.to_wire(), ('127.0.0.1', port))
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        return None
    return parse_serial(sock.recv(65535))


def parse_serial(wire):
    try:
        m = dns.message.from_wire(wire)
    except Exception:
        return None
    for rrset in m.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset[0].serial
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--zone', required=True)
    ap.add_argument('--primary', type=int, required=True)
    ap.add_argument('--server', action='append', default=[])
    ap.add_argument('--timeout', type=float, default=30)
    ap.add_argument('cmd', nargs='+')
    a = ap.parse_args()
    servers = {}
    for s in a.server:
        name, port = s.split('=')
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        servers[name] = (int(port), sock)
    psock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    query = dns.message.make_query(a.zone, dns.rdatatype.SOA).to_wire()

    old = soa_serial(psock, a.zone, a.primary, 2)
    if old is None:
        print('primary does not answer', file=sys.stderr)
        return 1
    want = (old + 1) & 0xffffffff	# knotd's serial-policy increment
    psock.setblocking(False)
    servers['primary'] = (a.primary, psock)
    t0 = time.monotonic()
    proc = subprocess.Popen(a.cmd, stdout=subprocess.DEVNULL)
    done = {}
    while len(done) < len(servers) and time.monotonic() - t0 < a.timeout:
        for name, (port, sock) in servers.items():
            if name not in done:
                sock.sendto(query, ('127.0.0.1', port))
        time.sleep(0.0005)
        for name, (port, sock) in servers.items():
            while name not in done:
                try:
                    wire = sock.recv(65535)
                except BlockingIOError:
                    break
                if parse_serial(wire) == want:
                    done[name] = (time.monotonic() - t0) * 1000
    if proc.wait() != 0:
        print('the command failed', file=sys.stderr)
        return 1
    for name in servers:
        print(name, '%.1f' % done[name] if name in done else 'timeout')
    print('serial', want)
    return 0


if __name__ == '__main__':
    sys.exit(main())
