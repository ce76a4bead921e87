#!/usr/bin/python3
"""One run of bench/anycast: when did the route leave the router, and what was lost.

  anycast-analyze.py MONITOR T0 HOP TIMELINE
MONITOR: `ip -ts monitor route` of the router; T0: unix time of the failure; HOP: the next
hop of the failed PoP; TIMELINE: client.py --timeline. Prints
"withdraw_ms LOST SENT" (withdraw_ms = -1 when the route never left).
"""
import datetime
import re
import sys


def events(path):
    """(unix time, text) of each event block."""
    cur = None
    out = []
    for line in open(path):
        m = re.match(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)\] ?(.*)", line)
        if m:
            if cur:
                out.append(cur)
            ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
            cur = [ts, m.group(2)]
        elif cur:
            cur[1] += " " + line.strip()
    if cur:
        out.append(cur)
    return out


def main():
    mon, t0, hop, tl = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
    gone = -1
    for ts, text in events(mon):
        if ts < t0 or not text.startswith("192.0.2.53"):
            continue
        if "via %s " % hop not in text + " ":
            gone = (ts - t0) * 1000
            break
    sent = lost = 0
    for line in open(tl):
        _, ok, _ = line.split()
        sent += 1
        lost += ok == "0"
    print("%.0f %d %d" % (gone, lost, sent))


if __name__ == "__main__":
    main()
