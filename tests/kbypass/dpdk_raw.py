#!/usr/bin/python3
"""Send one DNS query as a raw Ethernet frame (optionally 802.1Q-tagged) and check the answer
frame bit by bit: the same tag, MACs/addresses/ports swapped, lengths, IPv4 header checksum
and UDP checksum right, and a DNS response to our ID and question.

Used by tests/kbypass/dpdk.sh where the kernel has no 802.1Q support (no VLAN interface can
be made) and to check checksums that a kernel socket would not show.
Exit status 0 and one line "ok ..." when everything holds; 1 and the reason otherwise.
"""
import argparse
import ipaddress
import random
import select
import socket
import struct
import sys
import time

import dns.message
import dns.rcode

ETH_P_ALL = 0x0003
ETH_P_8021Q = 0x8100
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def udp_csum(src, dst, udp, v6):
    if v6:
        pseudo = src + dst + struct.pack("!I3xB", len(udp), 17)
    else:
        pseudo = src + dst + struct.pack("!BBH", 0, 17, len(udp))
    c = 0xFFFF - csum(pseudo + udp)
    return c or 0xFFFF


def build(args, dns_wire, sport):
    src, dst = ipaddress.ip_address(args.src), ipaddress.ip_address(args.dst)
    v6 = src.version == 6
    udp = struct.pack("!HHHH", sport, 53, 8 + len(dns_wire), 0) + dns_wire
    c = udp_csum(src.packed, dst.packed, udp, v6)
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + src.packed + dst.packed
        et = 0x86DD
    else:
        hdr = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(udp), random.randrange(65536),
                          0x4000, 64, 17, 0) + src.packed + dst.packed
        ip = hdr[:10] + struct.pack("!H", 0xFFFF - csum(hdr)) + hdr[12:]
        et = 0x0800
    eth = bytes.fromhex(args.dst_mac.replace(":", "")) + bytes.fromhex(args.src_mac.replace(":", ""))
    if args.vlan:
        eth += struct.pack("!HH", ETH_P_8021Q, args.vlan)
    return eth + struct.pack("!H", et) + ip + udp


def parse(frame, aux_vlan):
    """(vlan, ethertype, payload after the Ethernet header(s), dst mac, src mac)"""
    dmac, smac = frame[0:6], frame[6:12]
    et = struct.unpack("!H", frame[12:14])[0]
    off, vlan = 14, aux_vlan
    if et == ETH_P_8021Q:
        vlan = struct.unpack("!H", frame[14:16])[0] & 0xFFF
        et = struct.unpack("!H", frame[16:18])[0]
        off = 18
    return vlan, et, frame[off:], dmac, smac


def check_answer(args, vlan, et, l3, query, sport):
    """None when this is not our answer; otherwise (ok, text)."""
    src, dst = ipaddress.ip_address(args.src), ipaddress.ip_address(args.dst)
    v6 = src.version == 6
    if et != (0x86DD if v6 else 0x0800):
        return None
    if v6:
        if len(l3) < 48 or l3[6] != 17:
            return None
        plen = struct.unpack("!H", l3[4:6])[0]
        a_src, a_dst, udp = l3[8:24], l3[24:40], l3[40:40 + plen]
        if len(udp) != plen:
            return False, "IPv6 payload length %d, frame has %d" % (plen, len(l3) - 40)
    else:
        if len(l3) < 28 or l3[9] != 17:
            return None
        ihl = (l3[0] & 15) * 4
        tot = struct.unpack("!H", l3[2:4])[0]
        a_src, a_dst, udp = l3[12:16], l3[16:20], l3[ihl:tot]
    if a_src != dst.packed or a_dst != src.packed:
        return None
    sp, dp, ulen, uc = struct.unpack("!HHHH", udp[:8])
    if sp != 53 or dp != sport:
        return None
    if vlan != (args.vlan or None):
        return False, "answer VLAN %s, query VLAN %s" % (vlan, args.vlan or None)
    if not v6 and csum(l3[:20]) != 0xFFFF:
        return False, "bad IPv4 header checksum"
    if ulen != len(udp):
        return False, "UDP length %d, datagram has %d" % (ulen, len(udp))
    if uc == 0:
        if v6:
            return False, "IPv6 UDP checksum is 0 (it is mandatory)"
    elif udp_csum(a_src, a_dst, udp[:6] + b"\0\0" + udp[8:], v6) != uc:
        return False, "bad UDP checksum 0x%04x" % uc
    resp = dns.message.from_wire(udp[8:])
    if resp.id != query.id or not (resp.flags & 0x8000):
        return False, "not a response to our ID"
    if resp.question != query.question:
        return False, "question not echoed"
    rdata = " ".join(str(rd) for rrs in resp.answer for rd in rrs)
    return True, "ok vlan=%s rcode=%s answer=%s" % (vlan, dns.rcode.to_text(resp.rcode()), rdata)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--vlan", type=int, default=0)
    ap.add_argument("--qname", required=True)
    ap.add_argument("--qtype", default="A")
    ap.add_argument("--expect", default=None, help="text the answer must contain")
    ap.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args()

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((args.iface, 0))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    query = dns.message.make_query(args.qname, args.qtype)
    sport = random.randrange(20000, 60000)
    # three tries: the first frame may race the peer's XDP program being ready
    for _ in range(3):
        s.send(build(args, query.to_wire(), sport))
        end = time.time() + args.timeout / 3
        while time.time() < end:
            r, _, _ = select.select([s], [], [], max(0, end - time.time()))
            if not r:
                break
            frame, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(32))
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            aux_vlan = None
            for level, kind, data in anc:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= 20:
                    status, _, _, _, _, tci = struct.unpack("IIIHHH", data[:18])
                    if status & TP_STATUS_VLAN_VALID:
                        aux_vlan = tci & 0xFFF
            vlan, et, l3, _, _ = parse(frame, aux_vlan)
            res = check_answer(args, vlan, et, l3, query, sport)
            if res is None:
                continue
            ok, text = res
            if ok and args.expect and args.expect not in text:
                ok, text = False, "answer lacks %r: %s" % (args.expect, text)
            print(text if ok else "FAIL: " + text)
            return 0 if ok else 1
    print("FAIL: no answer from %s (vlan %s)" % (args.dst, args.vlan or "none"))
    return 1


if __name__ == "__main__":
    sys.exit(main())
