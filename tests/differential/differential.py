#!/usr/bin/python3
"""Differential test runner: thousands of generated queries to a reference and a peer.

Each run is a pair of servers (the reference, e.g. knotd, and the peer, e.g. pharos-serve)
serving the same zones; gen.py draws the queries (seeded) over the zones of every run, and
each query goes to the two servers of its zone's run. The responses are compared with
tests/lib/dnscompare.py: RCODE (extended included), opcode, flags QR AA TC RD RA AD CD, EDNS
(presence, version, payload, DO, options), the question, and the answer, authority and
additional sections as sets of RRsets (owner without regard to case, type, class, TTL,
canonical rdata). Owner-name case and response size are reported as notes (not compared).

Every difference is put in a category (zone, kind, and what differs: the RRset types only
in one response, the flags, the RCODEs) so that thousands of differences read as a short
table. A difference is allowed only by an entry of the allow file (dnscompare's format:
QUERY-GLOB WHAT REASON, the glob matched against the query text with the name in lower
case); besides dnscompare's kinds, WHAT may be 'flags-cd' (a flags difference in CD alone)
or 'truncated' (the sections of two responses that both have TC differ).

Each server's answers are also checked on their own: a response must come (retried with
longer waits: see exchange), parse, carry the query ID and echo the question name as sent.
Finally the reference's answers must cover what the test is for (every query type, option
and name class sent; positive, NODATA, NXDOMAIN, referral, CNAME, wildcard, TC, REFUSED and
BADVERS answers seen): a zone or generator change that stops exercising something fails.

Usage:
  differential.py [--seed N] [--count N] [--ref-name knot] [--peer-name pharos]
                  --run NAME REF_HOST:PORT PEER_HOST:PORT TAG:ORIGIN=ZONEFILE... [--run ...]
                  [--allow FILE] [--report FILE] [--show N] [--jobs N] [--no-coverage]

Exit: 0 no difference (or only allowed ones), 1 differences, failed checks or coverage
missed, 2 usage or input error.
"""

import argparse
import collections
import concurrent.futures
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import dnscompare as dc  # noqa: E402  (the path is set just above)
import gen  # noqa: E402

try:
    import dns.flags
    import dns.name
    import dns.rcode
    import dns.rdatatype
except ImportError as e:  # pragma: no cover
    sys.stderr.write("differential: dnspython missing (%s)\n" % e)
    sys.exit(77)

# Kinds reported but not compared: owner-name case (owners compare without regard to case;
# which case a server writes depends on its compression) and size (compression again).
# tests/integration/knot-compare checks both closely on its hand-written queries.
NOTE_KINDS = ("case", "size")
# Kinds of this runner besides dnscompare's: 'flags-cd' (the flags differ in CD alone) and
# 'truncated' (both responses have TC, and their sections differ: what a server keeps in a
# response it truncates).
KINDS = dc.KINDS + ("flags-cd", "truncated")
MAX_TEXT = 4000     # characters of one difference printed in full


class Run:
    def __init__(self, words, ref_name, peer_name):
        if len(words) < 4:
            raise dc.InputError("--run NAME REF_HOST:PORT PEER_HOST:PORT "
                                "TAG:ORIGIN=ZONEFILE...: got %r" % " ".join(words))
        self.name = words[0]
        self.ref = dc.addr_of("%s=%s" % (ref_name, words[1]))
        self.peer = dc.addr_of("%s=%s" % (peer_name, words[2]))
        self.zones = []
        for spec in words[3:]:
            try:
                self.zones.append(gen.parse_zone_spec(spec))
            except (ValueError, OSError) as e:
                raise dc.InputError("zone %s: %s" % (spec, e))


class Outcome:
    """What happened to one query."""

    def __init__(self, gq, run):
        self.gq = gq
        self.run = run
        self.q = None
        self.ref = self.peer = None
        self.problems = []      # failed checks of one server's answer
        self.fail = []          # (kind, category, text) not allowed
        self.allowed = []       # (kind, category, text, Allow)
        self.notes = []         # (kind, category, text)


def split_cd(diffs, ref, peer):
    """A flags difference that includes CD becomes two: 'flags-cd' (CD alone, which the
    allow file may accept) and 'flags' for the other flags, if any."""
    out = []
    for kind, text in diffs:
        if kind != "flags" or "cd" not in ref.flags ^ peer.flags:
            out.append((kind, text))
            continue
        out.append(("flags-cd", "flags: CD %s" % ("cleared" if "cd" in ref.flags
                                                  else "set") + " by the peer only"))
        rest_r, rest_p = ref.flags - {"cd"}, peer.flags - {"cd"}
        if rest_r != rest_p:
            out.append(("flags", "flags: only in reference %s, only in other %s" % (
                " ".join(sorted(rest_r - rest_p)) or "-",
                " ".join(sorted(rest_p - rest_r)) or "-")))
    return out


def type_name(key):
    _, rdtype, _, covers = key
    t = dns.rdatatype.to_text(rdtype)
    if rdtype == dns.rdatatype.RRSIG:
        t += "(%s)" % dns.rdatatype.to_text(covers)
    return t


def section_detail(sec, ref, peer):
    """'-NSEC -RRSIG(NSEC) ~A': types only in the reference (-), only in the peer (+), in
    both but with other TTL or rdata (~). Owner names are left out so that categories group."""
    a, b = ref.sections[sec], peer.sections[sec]
    parts = set()
    for k in set(a) | set(b):
        if k in a and k in b:
            if a[k][:2] != b[k][:2]:
                ttl_only = a[k][1] == b[k][1]
                parts.add(("~" if not ttl_only else "ttl:") + type_name(k))
        elif k in a:
            parts.add("-" + type_name(k))
        else:
            parts.add("+" + type_name(k))
    return " ".join(sorted(parts, key=lambda p: (p.split(":")[-1].lstrip("-+~"), p)))


def edns_detail(ref, peer):
    a, b = ref.edns, peer.edns
    if a is None or b is None:
        return "OPT only in %s" % ("reference" if b is None else "peer")
    what = [n for n, x, y in zip(("version", "payload", "DO", "options"), a, b) if x != y]
    return "differs in " + ", ".join(what)


def category(kind, ref, peer, tag, ref_name, peer_name):
    """A short text grouping similar differences."""
    if kind == "response":
        d = "no response from %s" % (ref_name if ref is None else peer_name)
    elif kind == "parse":
        d = "unparsable response"
    elif kind == "rcode":
        d = "rcode %s/%s" % (dns.rcode.to_text(ref.rcode), dns.rcode.to_text(peer.rcode))
    elif kind == "flags":
        d = " ".join(["-" + f for f in sorted(ref.flags - peer.flags - {"cd"})] +
                     ["+" + f for f in sorted(peer.flags - ref.flags - {"cd"})])
    elif kind == "flags-cd":
        d = "-cd" if "cd" in ref.flags else "+cd"
    elif kind == "edns":
        d = edns_detail(ref, peer)
    elif kind in dc.SECTIONS:
        d = section_detail(kind, ref, peer)
    elif kind == "authority-apex-ns":
        d = "apex NS"
    else:
        d = ""
    return ("[%s] %s %s" % (tag, kind, d)).rstrip()


class Lost:
    """Queries that got no response, counted across threads. A response can be lost on a
    loaded machine (a server stalled for a few seconds), so a query is retried, with a
    longer wait; but a server that does not answer at all must not cost every query the
    whole retry schedule: after MAX_RETRIED lost queries, no more retries, and after
    MAX_LOST the remaining queries are not sent (the run fails at once)."""
    MAX_RETRIED = 20
    MAX_LOST = 50

    def __init__(self):
        self.lock = threading.Lock()
        self.n = 0

    def retries(self):
        with self.lock:
            return self.n < self.MAX_RETRIED

    def give_up(self):
        with self.lock:
            return self.n >= self.MAX_LOST

    def add(self):
        with self.lock:
            self.n += 1


LOST = Lost()


def exchange(srv, wire, tcp, timeout):
    """One query to one server: UDP up to 3 tries, TCP 2 (each wait longer than the last,
    timeout, 2 x timeout, 2 x timeout), while retries are allowed at all."""
    tries = (3 if not tcp else 2) if LOST.retries() else 1
    for i in range(tries):
        data = dc.ask(srv, wire, tcp, timeout * (1 if i == 0 else 2))
        if data is not None:
            return data
    LOST.add()
    return None


def judge(gq, run, qid, timeout, names):
    """Send one query to both servers of its run and compare. Runs in the worker threads:
    the only shared state is LOST (locked); the allow file is applied afterwards, in the
    main thread (apply_allow)."""
    o = Outcome(gq, run)
    q = o.q = dc.Query(gq.text, 0)
    if LOST.give_up():
        o.problems = ["not sent: %d queries already got no response" % LOST.MAX_LOST]
        return o
    wire = q.wire(qid)
    d_ref = exchange(run.ref, wire, q.tcp, timeout)
    d_peer = exchange(run.peer, wire, q.tcp, timeout)
    o.ref = None if d_ref is None else dc.Resp(d_ref, qid)
    o.peer = None if d_peer is None else dc.Resp(d_peer, qid)
    o.problems = (dc.check_expect(q, o.ref, names[0], "ref", False) +
                  dc.check_expect(q, o.peer, names[1], "peer", False))
    in_zone = dns.name.from_text(q.qname).is_subdomain(dns.name.from_text(gq.origin))
    tag = gq.tag if in_zone else "outside"
    ok = o.ref is not None and o.peer is not None and not (o.ref.error or o.peer.error)
    both_tc = ok and "tc" in o.ref.flags and "tc" in o.peer.flags
    for kind, text in split_cd(dc.compare(o.ref, o.peer, gq.origin), o.ref, o.peer):
        cat = category(kind, o.ref, o.peer, tag, *names) if ok or kind == "response" \
            else "[%s] %s" % (tag, kind)
        if both_tc and (kind in dc.SECTIONS or kind == "authority-apex-ns"):
            kind = "truncated"
            cat = cat.replace("] ", "] truncated ", 1)
        if kind in NOTE_KINDS:
            o.notes.append((kind, cat, text))
        else:
            o.fail.append((kind, cat, text))
    return o


class _Label:
    """What an allow glob is matched against: the query text with the name in lower case
    (the generator randomises its case)."""

    def __init__(self, q):
        self.label = " ".join([q.qname.lower()] + q.label.split()[1:])


def apply_allow(o, allow):
    """Move the differences the allow file accepts from o.fail to o.allowed."""
    keep = []
    for kind, cat, text in o.fail:
        a = dc.allowed(allow, _Label(o.q), kind)
        if a is None:
            keep.append((kind, cat, text))
        else:
            o.allowed.append((kind, cat, text, a))
    o.fail = keep


# ---------------------------------------------------------------------------------------
# Coverage: what the reference's answers must include
# ---------------------------------------------------------------------------------------

def ref_outcome(q, cls, r):
    """Kinds of answer this reference response is (a set); cls: the query's name class."""
    out = set()
    if r is None or r.error:
        return out
    m = r.msg
    qtype = dns.rdatatype.from_text(q.qtype)
    if "tc" in r.flags:
        out.add("truncated")
    if r.rcode == dns.rcode.REFUSED:
        out.add("refused")
    elif r.rcode == dns.rcode.BADVERS:
        out.add("badvers")
    elif r.rcode == dns.rcode.NXDOMAIN:
        out.add("nxdomain")
    elif r.rcode == dns.rcode.NOERROR:
        if "aa" not in r.flags and any(rr.rdtype == dns.rdatatype.NS for rr in m.authority):
            out.add("referral")
        elif not m.answer:
            out.add("nodata")
        else:
            out.add("positive")
    if any(rr.rdtype == dns.rdatatype.CNAME for rr in m.answer) and \
            qtype != dns.rdatatype.CNAME:
        out.add("cname")
    if any(rr.rdtype == dns.rdatatype.RRSIG and rr.name.labels[0] != b"*" and
           any(rd.labels < len(rr.name) - 1 for rd in rr) for rr in m.answer):
        out.add("signed-wildcard")
    qn = dns.name.from_text(q.qname)
    if cls == "wildcard" and r.rcode == dns.rcode.NOERROR and \
            any(rr.name == qn and rr.rdtype != dns.rdatatype.CNAME for rr in m.answer):
        out.add("wildcard")
    if any(rr.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3) for rr in m.authority):
        out.add("denial-proof")
    if m.additional:
        out.add("additional")
    return out


def coverage_problems(outcomes):
    need = collections.Counter()
    sent_types, sent_opts, sent_cls = collections.Counter(), collections.Counter(), \
        collections.Counter()
    for o in outcomes:
        q = o.q
        sent_types[q.qtype] += 1
        sent_cls[o.gq.cls] += 1
        for k in ("tcp", "do", "rd", "ad", "cd"):
            if k in q.opts:
                sent_opts[k] += 1
        if not q.tcp:
            sent_opts["udp"] += 1
        sent_opts["edns" if "bufsize" in q.opts else "noedns"] += 1
        if "bufsize" in q.opts:
            sent_opts["bufsize=" + q.opts["bufsize"]] += 1
        if "ednsver" in q.opts:
            sent_opts["ednsver=" + q.opts["ednsver"]] += 1
        if q.qname != q.qname.lower():
            sent_opts["mixed-case"] += 1
        for k in ref_outcome(q, o.gq.cls, o.ref):
            need[k] += 1
    # The minimum counts are for 10 000 queries, and scale with the number sent.
    def least(n):
        return max(1, n * len(outcomes) // 10000)
    bad = []
    for t in gen.TYPES:
        if sent_types[t] < least(10):
            bad.append("type %s sent %d times (< %d)" % (t, sent_types[t], least(10)))
    for c in gen.CLASSES:
        if sent_cls[c] < least(50):
            bad.append("name class %s drawn %d times (< %d)" % (c, sent_cls[c], least(50)))
    for k in ["tcp", "udp", "do", "rd", "ad", "cd", "edns", "noedns", "mixed-case",
              "ednsver=1"] + \
            ["bufsize=%d" % b for b in gen.BUFSIZES]:
        if sent_opts[k] < least(50):
            bad.append("option %s sent %d times (< %d)" % (k, sent_opts[k], least(50)))
    for k in ("positive", "nodata", "nxdomain", "referral", "cname", "wildcard",
              "truncated", "refused", "badvers", "signed-wildcard", "denial-proof",
              "additional"):
        if need[k] < least(10):
            bad.append("the reference gave %d answers of kind %s (< %d)" % (
                need[k], k, least(10)))
    return bad, need


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------

def show_outcome(o, names):
    print("FAIL %s: %s  (%s, name class %s)" % (o.run.name, o.gq.text, o.gq.tag, o.gq.cls))
    for who, r in zip(names, (o.ref, o.peer)):
        print("  %-8s %s" % (who + ":", "no response" if r is None else
                             r.error or dc.summary(r)))
    for p in o.problems:
        print("  check: " + p)
    for kind, cat, text in o.fail:
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + " ..."
        print("  difference [%s] %s" % (kind, text.replace("\n", "\n  ")))


def summarize(outcomes, names, args, elapsed, cov_bad, cov_need, allow):
    ref_name, peer_name = names
    n = len(outcomes)
    fail = [o for o in outcomes if o.fail or o.problems]
    allowed_only = [o for o in outcomes if not (o.fail or o.problems) and o.allowed]
    identical = n - len(fail) - len(allowed_only)
    add_only = [o for o in fail if not o.problems and
                all(k == "additional" for k, _, _ in o.fail)]
    noted = [o for o in outcomes if o.notes and not (o.fail or o.problems or o.allowed)]
    cats = collections.Counter()
    examples = collections.defaultdict(list)
    qtypes = collections.defaultdict(collections.Counter)
    allowed_cats = collections.Counter()
    note_cats = collections.Counter()
    for o in outcomes:
        for c in sorted({c for _, c, _ in o.fail} |
                        {"[%s] check: %s" % (o.gq.tag, ":".join(p.split(":")[:2])[:60])
                         for p in o.problems}):
            cats[c] += 1
            qtypes[c][o.q.qtype] += 1
            if len(examples[c]) < 3:
                examples[c].append(o.gq.text)
        for c in {c for _, c, _, _ in o.allowed}:
            allowed_cats[c] += 1
        for c in {c for _, c, _ in o.notes}:
            note_cats[c] += 1
    per_run = collections.Counter(o.run.name for o in outcomes)
    print("differential: %s (reference) vs %s: %d queries sent in %.1f s (%s), seed %d" % (
        ref_name, peer_name, n, elapsed,
        ", ".join("run %s %d" % kv for kv in sorted(per_run.items())), args.seed))
    print("  identical %d, allowed %d, different %d (of which %d differ only in the "
          "additional section)" % (identical, len(allowed_only), len(fail), len(add_only)))
    print("  notes (not compared): %d queries differ only in owner-name case or size" %
          len(noted))
    print("  reference answers: %s" % ", ".join(
        "%s %d" % kv for kv in sorted(cov_need.items())))
    if cats:
        print("\ndifferences by category (queries; - only %s, + only %s, ~ other rdata/TTL):"
              % (ref_name, peer_name))
        for c, k in sorted(cats.items(), key=lambda kv: (-kv[1], kv[0])):
            print("  %6d  %s" % (k, c))
            print("          query types: %s" % type_mix(qtypes[c]))
            for e in examples[c][:2]:
                print("          e.g. %s" % e)
    if allowed_cats:
        print("\nallowed differences by category:")
        for c, k in sorted(allowed_cats.items(), key=lambda kv: (-kv[1], kv[0])):
            print("  %6d  %s" % (k, c))
    if note_cats and args.verbose:
        print("\nnotes by category:")
        for c, k in sorted(note_cats.items(), key=lambda kv: (-kv[1], kv[0])):
            print("  %6d  %s" % (k, c))
    for a in allow:
        if a.used == 0 and args.verbose:
            print("note: allow line %d (%s %s) matched nothing" % (a.lineno, a.glob, a.kind))
    if fail:
        print("\nfirst %d of %d differing queries in full:" % (min(args.show, len(fail)),
                                                               len(fail)))
        for o in fail[:args.show]:
            show_outcome(o, names)
    if cov_bad:
        print("\ncoverage: the queries no longer exercise what they must:")
        for b in cov_bad:
            print("  " + b)
    unsent = sum(1 for o in outcomes if o.ref is None and o.peer is None and o.problems
                 and o.problems[0].startswith("not sent"))
    print("\ndifferential: %d sent, %d identical, %d allowed, %d different%s%s" % (
        n - unsent, identical, len(allowed_only), len(fail),
        ", %d not sent (too many lost)" % unsent if unsent else "",
        ", coverage missed" if cov_bad else ""))
    return cats, examples, qtypes, allowed_cats, note_cats


def type_mix(counter):
    """'NSEC3 20, A 3, ...' (the five most frequent)."""
    top = counter.most_common(5)
    rest = sum(counter.values()) - sum(k for _, k in top)
    return ", ".join("%s %d" % kv for kv in top) + (", other %d" % rest if rest else "")


def write_report(path, outcomes, names, cats, examples, qtypes, allowed_cats, note_cats,
                 args):
    ref_name, peer_name = names
    with open(path, "w", encoding="utf-8") as f:
        f.write("# differential: %s vs %s, %d queries, seed %d\n\n" % (
            ref_name, peer_name, len(outcomes), args.seed))
        f.write("- = only in %s, + = only in %s, ~ = both, other rdata or TTL\n\n" % (
            ref_name, peer_name))
        for title, table in (("Differences", cats), ("Allowed", allowed_cats),
                             ("Notes (not compared)", note_cats)):
            if not table:
                continue
            f.write("## %s\n\n| queries | category | query types | examples |\n"
                    "|---:|---|---|---|\n" % title)
            for c, k in sorted(table.items(), key=lambda kv: (-kv[1], kv[0])):
                hits = [o for o in outcomes if any(x[1] == c for x in o.notes + o.allowed)]
                ex = examples.get(c) or [o.gq.text for o in hits][:3]
                mix = qtypes.get(c) or collections.Counter(o.q.qtype for o in hits)
                f.write("| %d | `%s` | %s | %s |\n" % (
                    k, c, type_mix(mix), "<br>".join("`%s`" % e for e in ex)))
            f.write("\n")
        f.write("## Every differing query\n\n```\n")
        for o in outcomes:
            if o.fail or o.problems:
                f.write("%s: %s\n" % (o.run.name, o.gq.text))
                for who, r in zip(names, (o.ref, o.peer)):
                    f.write("  %-8s %s\n" % (who + ":", "no response" if r is None else
                                             r.error or dc.summary(r)))
                for p in o.problems:
                    f.write("  check: %s\n" % p)
                for kind, _, text in o.fail:
                    f.write("  [%s] %s\n" % (kind, text.replace("\n", "\n  ")))
        f.write("```\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", nargs="+", action="append", required=True,
                    metavar="WORD", help="NAME REF_HOST:PORT PEER_HOST:PORT "
                    "TAG:ORIGIN=ZONEFILE...")
    ap.add_argument("--ref-name", default="knot")
    ap.add_argument("--peer-name", default="peer")
    ap.add_argument("--allow", help="allowed differences (QUERY-GLOB WHAT REASON)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--jobs", type=int, default=8, help="queries in flight (default 8)")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--show", type=int, default=30, help="differing queries shown in full")
    ap.add_argument("--report", help="write every difference, by category, to this file")
    ap.add_argument("--no-coverage", action="store_true",
                    help="do not require the reference's answers to cover every case")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    names = (args.ref_name, args.peer_name)
    try:
        runs = [Run(w, *names) for w in args.run]
        allow = dc.load_allow(args.allow, KINDS)
        zones, run_of = [], {}
        for r in runs:
            for z in r.zones:
                if z.tag in run_of:
                    raise dc.InputError("zone tag %s used twice" % z.tag)
                run_of[z.tag] = r
                zones.append(z)
        queries = gen.generate(zones, args.count, args.seed)
    except (dc.InputError, OSError, ValueError) as e:
        print("differential: %s" % e, file=sys.stderr)
        return 2
    rnd = random.Random(args.seed)
    qids = [rnd.randrange(1, 65536) for _ in queries]
    start = time.monotonic()
    # Bounded concurrency: at most --jobs queries in flight (each to both servers in turn).
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(
            lambda iq: judge(iq[1], run_of[iq[1].tag], qids[iq[0]], args.timeout, names),
            enumerate(queries)))
    for o in outcomes:
        apply_allow(o, allow)
    elapsed = time.monotonic() - start
    cov_bad, cov_need = coverage_problems(outcomes)
    if args.no_coverage:
        cov_bad = []
    tables = summarize(outcomes, names, args, elapsed, cov_bad, cov_need, allow)
    if args.report:
        write_report(args.report, outcomes, names, *tables, args)
    failed = any(o.fail or o.problems for o in outcomes)
    return 1 if failed or cov_bad else 0


if __name__ == "__main__":
    sys.exit(main())
