#!/usr/bin/python3
"""Query generator for the differential test: seeded, so every run sends the same queries.

The names come from the zone files themselves (read with dnspython), so a record added to a
zone is queried without touching this file. Each query is one line of the query language of
tests/lib/dnscompare.py (NAME TYPE [OPTIONS]), with the class of name it was drawn from:

  apex      the zone's origin
  exact     an owner name of the zone, not below a cut (wildcard owners included, '*'
            queried literally)
  ent       an empty non-terminal (an ancestor of an owner that owns nothing)
  below     one or two random labels under an owner (often NXDOMAIN, or a wildcard match)
  wildcard  one or two random labels in place of a wildcard's '*' (a synthesised answer)
  cut       a delegation point, a name below it (glue or not), or random labels below it
  random    one to three random labels under the origin
  outside   a name in no zone served (REFUSED)

Query options (each drawn independently): TCP (15 %); EDNS (80 %) with a buffer size of 512,
1220, 1232 or 4096, version 1 (3 % of them: BADVERS) and DO (half of them); RD (20 %), AD
(4 %), CD (4 %); and half of the query names have the case of every letter randomised.

Run directly to print the queries:  gen.py [--seed N] [--count N] ORIGIN=FILE...
"""

import argparse
import math
import os
import random
import sys

import dns.name
import dns.rdatatype
import dns.zone

# Every type the brief asks for, plus a few present only in the test zones (HINFO, NAPTR,
# SSHFP, TYPE65280) and unknown ones that exist nowhere (RFC 3597).
TYPES = ("A", "AAAA", "NS", "SOA", "MX", "TXT", "CNAME", "SRV", "DS", "DNSKEY", "RRSIG",
         "NSEC", "NSEC3", "NSEC3PARAM", "PTR", "CAA", "ANY", "HINFO", "NAPTR", "SSHFP",
         "TYPE65280", "TYPE65000", "TYPE4242")
BUFSIZES = (512, 1220, 1232, 4096)
CLASSES = ("apex", "exact", "ent", "below", "wildcard", "cut", "random", "outside")
CLASS_WEIGHTS = (5, 30, 5, 12, 12, 12, 20, 4)
# Names in no zone that any run serves (each run serves diff.test. and/or example.).
OUTSIDE = ("other.test.", "www.other.test.", "test.", ".", "com.", "example.com.",
           "xexample.", "diff.test.example.org.", "example.test.", "arpa.")
LABEL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


class GenQuery:
    """One generated query: the dnscompare query text and where it came from."""

    def __init__(self, tag, origin, cls, text):
        self.tag = tag          # the zone's tag (which server pair answers it)
        self.origin = origin    # the zone's origin, lowercase text (for the apex NS rule)
        self.cls = cls          # name class (CLASSES)
        self.text = text        # NAME TYPE [OPTIONS]


class ZoneNames:
    """What a zone file holds, as the generator needs it."""

    def __init__(self, tag, origin, path):
        self.tag = tag
        self.origin = dns.name.from_text(origin)
        z = dns.zone.from_file(path, origin=self.origin, relativize=False,
                               check_origin=True)
        # Sorted (canonical order) so that the same zone gives the same queries.
        self.owners = sorted(z.nodes.keys())
        self.types = {n: sorted({dns.rdatatype.to_text(rds.rdtype) for rds in z.nodes[n]})
                      for n in self.owners}
        owners = set(self.owners)
        ents = set()
        for n in self.owners:
            p = n.parent()
            while p != self.origin and p.is_subdomain(self.origin):
                if p not in owners:
                    ents.add(p)
                p = p.parent()
        self.ents = sorted(ents)
        self.cuts = sorted(n for n in self.owners if n != self.origin and
                           any(rds.rdtype == dns.rdatatype.NS for rds in z.nodes[n]))
        self.below_cut = sorted(n for n in self.owners
                                if any(n != c and n.is_subdomain(c) for c in self.cuts))
        self.wildcards = sorted(n for n in self.owners if n.labels[0] == b"*")
        below = set(self.below_cut)
        self.authoritative = [n for n in self.owners if n not in below]


def rand_label(rnd):
    n = rnd.choice((1, 2, 3, 5, 8, 12))
    s = "".join(rnd.choice(LABEL_CHARS) for _ in range(n))
    # A label may not start or end with '-' in a host name; keep them plain.
    return s.strip("-") or "q"


def rand_labels(rnd, lo, hi):
    return [rand_label(rnd) for _ in range(rnd.randint(lo, hi))]


def prepend(name, labels):
    return dns.name.Name([lab.encode() for lab in labels] + list(name.labels))


def pick_name(rnd, z, cls):
    """A name of class cls in zone z (falls back to 'random' where the zone has none)."""
    if cls == "apex":
        return z.origin
    if cls == "exact":
        return rnd.choice(z.authoritative)
    if cls == "ent" and z.ents:
        return rnd.choice(z.ents)
    if cls == "below":
        return prepend(rnd.choice(z.owners), rand_labels(rnd, 1, 2))
    if cls == "wildcard" and z.wildcards:
        w = rnd.choice(z.wildcards)
        return prepend(w.parent(), rand_labels(rnd, 1, 2))
    if cls == "cut" and z.cuts:
        k = rnd.randrange(3)
        if k == 0:
            return rnd.choice(z.cuts)
        if k == 1 and z.below_cut:
            return rnd.choice(z.below_cut)
        return prepend(rnd.choice(z.cuts), rand_labels(rnd, 1, 2))
    if cls == "outside":
        n = dns.name.from_text(rnd.choice(OUTSIDE))
        return prepend(n, rand_labels(rnd, 0, 1))
    return prepend(z.origin, rand_labels(rnd, 1, 3))


def random_case(rnd, text):
    return "".join(c.upper() if c.isalpha() and rnd.random() < 0.5 else c for c in text)


def pick_type(rnd, z, name):
    # Four times in ten a type the name really has, so that positive answers are common.
    have = z.types.get(name)
    if have and rnd.random() < 0.4:
        return rnd.choice(have)
    return rnd.choice(TYPES)


def pick_options(rnd):
    opts = []
    if rnd.random() < 0.15:
        opts.append("tcp")
    if rnd.random() < 0.8:
        opts.append("bufsize=%d" % rnd.choice(BUFSIZES))
        if rnd.random() < 0.03:
            opts.append("ednsver=1")
        if rnd.random() < 0.5:
            opts.append("do")
    for flag, p in (("rd", 0.2), ("ad", 0.04), ("cd", 0.04)):
        if rnd.random() < p:
            opts.append(flag)
    return opts


def generate(zones, count, seed):
    """count queries over zones (a list of ZoneNames), the same list for the same seed."""
    rnd = random.Random(seed)
    # Bigger zones get more queries, but not in proportion: the small signed zones still get
    # a good share (diff.test. about a half, each example. about a quarter).
    weights = [math.sqrt(len(z.owners) + len(z.ents)) for z in zones]
    out = []
    for _ in range(count):
        z = rnd.choices(zones, weights)[0]
        cls = rnd.choices(CLASSES, CLASS_WEIGHTS)[0]
        name = pick_name(rnd, z, cls)
        rdtype = pick_type(rnd, z, name)
        text = name.to_text()
        if rnd.random() < 0.5:
            text = random_case(rnd, text)
        out.append(GenQuery(z.tag, z.origin.to_text().lower(), cls,
                            " ".join([text, rdtype] + pick_options(rnd))))
    return out


def parse_zone_spec(spec):
    """[TAG:]ORIGIN=FILE -> ZoneNames (the tag defaults to the origin)."""
    left, eq, path = spec.partition("=")
    if not eq or not left:
        raise ValueError("zone %r: expected [TAG:]ORIGIN=FILE" % spec)
    tag, colon, origin = left.rpartition(":")
    if not colon:
        tag, origin = left, left
    return ZoneNames(tag, origin, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("zones", nargs="+", metavar="[TAG:]ORIGIN=FILE")
    args = ap.parse_args()
    zones = [parse_zone_spec(s) for s in args.zones]
    try:
        for q in generate(zones, args.count, args.seed):
            print("%-8s %-8s %s" % (q.tag, q.cls, q.text))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. | head: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
