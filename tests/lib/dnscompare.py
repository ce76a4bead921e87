#!/usr/bin/python3
"""Differential DNS test: send the same queries to two (or more) servers, compare answers.

The first server is the reference (e.g. Knot DNS); every other server is compared with it.
Compared: presence of a response, RCODE (extended included), opcode, flags QR AA TC RD RA
AD CD, EDNS presence/version/payload/DO/options, the question (name case included: it must
be echoed), each section as a set of RRsets (owner, type, class, TTL, rdata in canonical
form; order is free), owner-name case, and the size (a response larger than the
reference's with the same content means weaker name compression).

Each query line may carry expectations (see the header of the queries file), checked on
every server, so that the queries cannot silently stop exercising what they are meant to.

Allowed differences come from an allow file; each line is
    QUERY-GLOB  WHAT  REASON...
QUERY-GLOB is matched (fnmatch) against the query text (NAME TYPE OPTIONS; it may hold
spaces), WHAT is one of KINDS, and REASON is mandatory. 'authority-apex-ns' allows the
authority sections to differ by exactly the apex NS RRset.

Exit: 0 no difference (or only allowed ones), 1 differences or failed expectations,
2 usage / input error.

Needs dnspython (Debian: python3-dnspython; run with /usr/bin/python3).
"""

import argparse
import concurrent.futures
import fnmatch
import random
import socket
import struct
import sys

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.opcode
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
except ImportError as e:  # pragma: no cover
    sys.stderr.write("dnscompare: dnspython missing (%s); install python3-dnspython "
                     "and run with /usr/bin/python3\n" % e)
    sys.exit(77)

KINDS = ("response", "rcode", "opcode", "flags", "edns", "question", "answer",
         "authority", "additional", "case", "size", "authority-apex-ns", "parse")
FLAG_NAMES = ("qr", "aa", "tc", "rd", "ra", "ad", "cd")
SECTIONS = ("answer", "authority", "additional")
SEC_SHORT = {"an": "answer", "ns": "authority", "ar": "additional"}


class InputError(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Query specs
# ---------------------------------------------------------------------------------------

class Query:
    """One line of the queries file."""

    def __init__(self, text, lineno):
        self.text = text
        self.lineno = lineno
        spec, _, exp = text.partition("|")
        words = spec.split()
        if len(words) < 2:
            raise InputError("line %d: expected NAME TYPE [OPTIONS]" % lineno)
        self.label = " ".join(words)
        self.qname = words[0]
        self.qtype = words[1]
        self.opts = {}
        for w in words[2:]:
            k, eq, v = w.partition("=")
            if k not in ("rd", "cd", "ad", "edns", "bufsize", "ednsver", "do", "tcp",
                         "class", "opcode", "qdcount", "trunc", "arcount", "ancount", "raw"):
                raise InputError("line %d: unknown option %r" % (lineno, w))
            self.opts[k] = v if eq else True
        self.expect = exp.split()
        for e in self.expect:
            if not parse_expectation_ok(e):
                raise InputError("line %d: unknown expectation %r" % (lineno, e))
        self.tcp = "tcp" in self.opts

    def wire(self, qid):
        """The query bytes to send (qid patched in)."""
        o = self.opts
        if "raw" in o:
            w = bytearray(bytes.fromhex(o["raw"]))
            if len(w) >= 2:
                w[0:2] = struct.pack("!H", qid)
            return bytes(w)
        name = dns.name.from_text(self.qname)
        rdtype = dns.rdatatype.from_text(self.qtype)
        rdclass = dns.rdataclass.from_text(o.get("class", "IN"))
        m = dns.message.make_query(name, rdtype, rdclass, use_edns=False)
        if any(k in o for k in ("edns", "bufsize", "ednsver", "do")):
            # use_edns() after make_query: make_query reads version 1 as True (= 0).
            m.use_edns(int(o.get("ednsver", 0)), dns.flags.DO if "do" in o else 0,
                       int(o.get("bufsize", 1232)))
        m.id = qid
        m.flags = 0
        for f in ("rd", "cd", "ad"):
            if f in o:
                m.flags |= dns.flags.from_text(f.upper())
        if "opcode" in o:
            v = o["opcode"]
            op = int(v) if v.isdigit() else dns.opcode.from_text(v)
            m.flags |= (op << 11) & 0x7800
        w = bytearray(m.to_wire())
        if "qdcount" in o:
            # The question repeated n times (n = 0 removes it), header patched to match.
            n = int(o["qdcount"])
            qlen = len(name.to_wire()) + 4
            q = w[12:12 + qlen]
            w = w[:12] + q * n + w[12 + qlen:]
            w[4:6] = struct.pack("!H", n)
        if "ancount" in o:
            w[6:8] = struct.pack("!H", int(o["ancount"]))
        if "arcount" in o:
            w[10:12] = struct.pack("!H", int(o["arcount"]))
        if "trunc" in o:
            w = w[:int(o["trunc"])]
        return bytes(w)


def parse_expectation_ok(e):
    who, colon, what = e.partition(":")
    if colon:
        return who in ("ref", "peer") and parse_expectation_ok(what)
    if e in ("edns", "noedns", "noresp", "unparsed"):
        return True
    if e[:1] in "+-" and e[1:] in FLAG_NAMES:
        return True
    k, eq, v = e.partition("=")
    if not eq:
        return False
    if k == "rcode":
        try:
            dns.rcode.from_text(v)
            return True
        except dns.rcode.UnknownRcode:
            return False
    if k in ("an", "ns", "ar"):
        return v.isdigit()
    if k == "has":
        parts = v.split("/")
        return len(parts) in (3, 4) and parts[0] in SEC_SHORT
    return False


def load_queries(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            out.append(Query(line, n))
    return out


class Allow:
    def __init__(self, glob, kind, reason, lineno):
        self.glob, self.kind, self.reason, self.lineno = glob, kind, reason, lineno
        self.used = 0


def load_allow(path, kinds=KINDS):
    """The entries of an allow file; kinds: the WHATs it may use (a caller that refines
    differences into more kinds passes its own list)."""
    out = []
    if not path:
        return out
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            # The glob may hold spaces (query texts do): WHAT is the first known kind.
            words = line.split()
            k = next((i for i, w in enumerate(words) if w in kinds and i > 0), None)
            if k is None:
                raise InputError("%s:%d: allow entry needs QUERY-GLOB WHAT REASON, WHAT one "
                                 "of %s" % (path, n, ", ".join(kinds)))
            if k + 1 >= len(words):
                raise InputError("%s:%d: allow entry without a reason" % (path, n))
            out.append(Allow(" ".join(words[:k]), words[k], " ".join(words[k + 1:]), n))
    return out


# ---------------------------------------------------------------------------------------
# Transport
# ---------------------------------------------------------------------------------------

def addr_of(spec):
    """NAME=HOST:PORT or NAME=[V6]:PORT -> (name, family, (host, port))."""
    name, eq, hp = spec.partition("=")
    if not eq:
        raise InputError("server %r: expected NAME=HOST:PORT" % spec)
    if hp.startswith("["):
        host, _, port = hp[1:].partition("]:")
        return name, socket.AF_INET6, (host, int(port))
    host, _, port = hp.rpartition(":")
    return name, socket.AF_INET, (host, int(port))


def ask(server, wire, tcp, timeout):
    """Send one query; the response bytes, or None when nothing came back in time."""
    _, family, addr = server
    if tcp:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(addr)
            s.sendall(struct.pack("!H", len(wire)) + wire)
            hdr = recv_exact(s, 2)
            if hdr is None:
                return None
            return recv_exact(s, struct.unpack("!H", hdr)[0])
        except (socket.timeout, ConnectionError):
            return None
        finally:
            s.close()
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(wire, addr)
        while True:
            data, src = s.recvfrom(65535)
            if src[:2] == addr[:2]:
                return data
    except socket.timeout:
        return None
    except ConnectionRefusedError:
        return None
    finally:
        s.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


# ---------------------------------------------------------------------------------------
# Response model
# ---------------------------------------------------------------------------------------

class Resp:
    """A response reduced to what is compared."""

    def __init__(self, wire, qid):
        self.wire = wire
        self.size = len(wire)
        self.msg = None
        self.error = None
        self.opcode = (wire[2] >> 3) & 0xF if len(wire) > 2 else None
        try:
            # dnspython refuses opcodes it does not know (3, 6-15): parse with opcode 0,
            # the real one is kept above.
            w = bytearray(wire)
            if len(w) > 2:
                w[2] &= 0x87
            self.msg = dns.message.from_wire(bytes(w), ignore_trailing=False,
                                             raise_on_truncation=False)
        except (dns.exception.DNSException, ValueError, struct.error) as e:
            self.error = "%s: %s" % (type(e).__name__, e)
            return
        m = self.msg
        self.id_ok = m.id == qid
        self.rcode = m.rcode()
        self.flags = {f for f in FLAG_NAMES if m.flags & dns.flags.from_text(f.upper())}
        if m.edns >= 0:
            opts = sorted((o.otype, o.to_wire() if hasattr(o, "to_wire") else b"")
                          for o in m.options)
            self.edns = (m.edns, m.payload, bool(m.ednsflags & dns.flags.DO), tuple(opts))
        else:
            self.edns = None
        self.question = [r.to_text() for r in m.question]
        self.sections = {s: rrset_map(getattr(m, s)) for s in SECTIONS}

    def count(self, sec):
        return sum(len(v[1]) for v in self.sections[sec].values())


def rrset_map(section):
    """{(owner lowercase, type, class, covers): (ttl, frozenset(canonical rdata), owners)}."""
    out = {}
    for rr in section:
        key = (rr.name.to_text().lower(), rr.rdtype, rr.rdclass, rr.covers)
        rdatas = frozenset(rd.to_digestable(dns.name.root) for rd in rr)
        if key in out:  # the same RRset split in two: merge, keep the lowest TTL
            ttl, old, owners = out[key]
            out[key] = (min(ttl, rr.ttl), old | rdatas, owners | {rr.name.to_text()})
        else:
            out[key] = (rr.ttl, rdatas, frozenset({rr.name.to_text()}))
    return out


def rrset_text(key, val):
    name, rdtype, rdclass, covers = key
    ttl, rdatas, _ = val
    rds = []
    for w in sorted(rdatas):
        try:
            rd = dns.rdata.from_wire(rdclass, rdtype, w, 0, len(w))
            rds.append(rd.to_text())
        except dns.exception.DNSException:
            rds.append("\\# %d %s" % (len(w), w.hex()))
    head = "%s %d %s %s" % (name, ttl, dns.rdataclass.to_text(rdclass),
                            dns.rdatatype.to_text(rdtype))
    return head + " " + " | ".join(rds)


# ---------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------

def compare(ref, other, apex):
    """List of (kind, text) differences between two parsed responses."""
    d = []
    if ref is None or other is None:
        if (ref is None) != (other is None):
            d.append(("response", "%s response" % ("no" if ref is None else "a") +
                      " from the reference, %s from the other" %
                      ("none" if other is None else "one")))
        return d
    if ref.error or other.error:
        if ref.error != other.error or ref.wire != other.wire:
            d.append(("parse", "unparsable response: ref=%s other=%s (ref %s / other %s)" % (
                ref.error, other.error, ref.wire.hex(), other.wire.hex())))
        return d
    if ref.rcode != other.rcode:
        d.append(("rcode", "rcode %s vs %s" % (dns.rcode.to_text(ref.rcode),
                                               dns.rcode.to_text(other.rcode))))
    if ref.opcode != other.opcode:
        d.append(("opcode", "opcode %s vs %s" % (ref.opcode, other.opcode)))
    if ref.flags != other.flags:
        only_r = sorted(ref.flags - other.flags)
        only_o = sorted(other.flags - ref.flags)
        d.append(("flags", "flags: only in reference %s, only in other %s" % (
            " ".join(only_r) or "-", " ".join(only_o) or "-")))
    if ref.edns != other.edns:
        d.append(("edns", "EDNS (version, payload, DO, options) %s vs %s" % (
            fmt_edns(ref.edns), fmt_edns(other.edns))))
    if ref.question != other.question:
        d.append(("question", "question %s vs %s" % (ref.question, other.question)))
    for sec in SECTIONS:
        a, b = ref.sections[sec], other.sections[sec]
        if a == b:
            continue
        keys = set(a) | set(b)
        # Compare ignoring the owner-name case first; case is its own kind.
        diff_keys = [k for k in keys if (a.get(k) or (0, 0, 0))[:2] != (b.get(k) or (0, 0, 0))[:2]]
        case_keys = [k for k in keys if k in a and k in b and a[k][:2] == b[k][:2]
                     and a[k][2] != b[k][2]]
        for k in case_keys:
            d.append(("case", "%s: owner written %s vs %s" % (
                sec, sorted(a[k][2]), sorted(b[k][2]))))
        if not diff_keys:
            continue
        kind = sec
        if sec == "authority" and all(k[0] == apex and k[1] == dns.rdatatype.NS
                                      and (k in a) != (k in b) for k in diff_keys):
            kind = "authority-apex-ns"
        lines = []
        for k in sorted(diff_keys, key=lambda k: (k[0], k[1])):
            if k in a and k in b:
                lines.append("    reference: " + rrset_text(k, a[k]))
                lines.append("    other:     " + rrset_text(k, b[k]))
            elif k in a:
                lines.append("    only in reference: " + rrset_text(k, a[k]))
            else:
                lines.append("    only in other:     " + rrset_text(k, b[k]))
        d.append((kind, "%s section differs:\n%s" % (sec, "\n".join(lines))))
    # Same content in more bytes = weaker name compression. Fewer bytes is fine: Knot does
    # not always find the shortest form.
    if other.size > ref.size:
        d.append(("size", "response is larger: %d vs %d bytes (weaker name compression?)" % (
            ref.size, other.size)))
    return d


def fmt_edns(e):
    if e is None:
        return "none"
    return "(v%d, %d, DO=%d, %s)" % (e[0], e[1], e[2],
                                    [(t, v.hex()) for t, v in e[3]] if e[3] else "no options")


def expectations_for(q, role, same_software):
    """The expectations of q that apply to a server of this role ('ref' or 'peer')."""
    out = []
    for e in q.expect:
        who, colon, what = e.partition(":")
        if not colon:
            out.append(e)
        elif who == "ref" and (role == "ref" or same_software):
            out.append(what)
        elif who == "peer" and role == "peer" and not same_software:
            out.append(what)
    return out


def check_expect(q, resp, server_name, role, same_software):
    """Failed expectations of query q on one server's response (list of text)."""
    exp = expectations_for(q, role, same_software)
    if resp is None:
        return [] if "noresp" in exp else ["%s: no response" % server_name]
    if "noresp" in exp:
        return ["%s: expected no response; got %s" % (
            server_name, resp.error or summary(resp))]
    if resp.error:
        # "unparsed": a response dnspython cannot read (e.g. signed with a TSIG key we do
        # not have); the query is then only compared byte for byte with the reference.
        if "unparsed" in exp:
            return []
        return ["%s: response does not parse: %s" % (server_name, resp.error)]
    bad = []
    if not resp.id_ok:
        bad.append("%s: response ID does not match the query" % server_name)
    for e in exp:
        ok = True
        if e == "edns":
            ok = resp.edns is not None
        elif e == "noedns":
            ok = resp.edns is None
        elif e[0] in "+-" and e[1:] in FLAG_NAMES:
            ok = (e[1:] in resp.flags) == (e[0] == "+")
        else:
            k, _, v = e.partition("=")
            if k == "rcode":
                ok = resp.rcode == dns.rcode.from_text(v)
            elif k in SEC_SHORT:
                ok = resp.count(SEC_SHORT[k]) == int(v)
            elif k == "has":
                p = v.split("/")
                want = (p[1].lower(), dns.rdatatype.from_text(p[2]))
                hits = [val for key, val in resp.sections[SEC_SHORT[p[0]]].items()
                        if key[:2] == want]
                ok = bool(hits) and (len(p) == 3 or hits[0][0] == int(p[3]))
        if not ok:
            bad.append("%s: expected %s; got %s" % (server_name, e, summary(resp)))
    # Whatever the expectations, a response to a well-formed question echoes it exactly.
    if len(resp.question) == 1 and not q.opts.get("raw") \
            and "qdcount" not in q.opts and "trunc" not in q.opts:
        got = resp.question[0].split()[0]
        if got != q.qname:
            bad.append("%s: question name not echoed as sent: %s instead of %s"
                       % (server_name, got, q.qname))
    return bad


def summary(resp):
    fl = " ".join(sorted(resp.flags))
    return "%s [%s] an=%d ns=%d ar=%d%s" % (
        dns.rcode.to_text(resp.rcode), fl, resp.count("answer"), resp.count("authority"),
        resp.count("additional"), " edns" if resp.edns else "")


def allowed(allow, q, kind):
    for a in allow:
        if a.kind == kind and fnmatch.fnmatchcase(q.label, a.glob):
            a.used += 1
            return a
    return None


def run(args):
    servers = [addr_of(s) for s in args.server]
    if len(servers) < 2:
        raise InputError("need at least two --server")
    queries = load_queries(args.queries)
    allow = load_allow(args.allow)
    apex = dns.name.from_text(args.apex).to_text().lower()
    rnd = random.Random(args.seed)
    ref_name = servers[0][0]
    n_diff = n_allowed = n_expect = n_same = 0
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(servers))
    for q in queries:
        qid = rnd.randrange(1, 65536)
        wire = q.wire(qid)
        # All servers at once: a query that gets no answer costs one timeout, not one each.
        datas = list(pool.map(lambda srv: ask(srv, wire, q.tcp, args.timeout), servers))
        resps = [None if d is None else Resp(d, qid) for d in datas]
        problems = []
        for i, (srv, r) in enumerate(zip(servers, resps)):
            problems += check_expect(q, r, srv[0], "peer" if i else "ref",
                                     args.same_software)
        diffs = []
        for srv, r in zip(servers[1:], resps[1:]):
            for kind, text in compare(resps[0], r, apex):
                diffs.append((srv[0], kind, text))
        where = "%s:%d: %s" % (args.queries, q.lineno, q.label)
        judged = [(d, allowed(allow, q, d[1])) for d in diffs]
        hard = [d for d, a in judged if a is None]
        soft = [(d, a) for d, a in judged if a is not None]
        if problems or hard:
            print("FAIL %s" % where)
            for p in problems:
                print("  expectation: " + p)
                n_expect += 1
            for srv, kind, text in hard:
                print("  difference %s vs %s [%s]: %s" % (ref_name, srv, kind, text))
                n_diff += 1
        for (srv, kind, text), a in soft:
            n_allowed += 1
            if args.verbose:
                print("allowed %s (%s vs %s [%s], allow line %d: %s)" % (
                    where, ref_name, srv, kind, a.lineno, a.reason))
                print("  " + text.replace("\n", "\n  "))
        if not (problems or diffs):
            n_same += 1
            if args.verbose:
                r = resps[0]
                print("same %s -> %s" % (q.label, summary(r) if r and not r.error else
                                        "no response" if r is None else r.error))
    for a in allow:
        if a.used == 0 and args.verbose:
            print("note: allow line %d (%s %s) matched nothing" % (a.lineno, a.glob, a.kind))
    print("dnscompare: %d queries to %s; %d identical, %d allowed differences, "
          "%d differences, %d failed expectations" % (
              len(queries), ", ".join(s[0] for s in servers), n_same, n_allowed, n_diff,
              n_expect))
    return 1 if (n_diff or n_expect) else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", action="append", default=[],
                    help="NAME=HOST:PORT; the first one is the reference")
    ap.add_argument("--queries", required=True)
    ap.add_argument("--allow", help="allowed differences (QUERY-GLOB WHAT REASON)")
    ap.add_argument("--apex", required=True, help="zone origin (for authority-apex-ns)")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--same-software", action="store_true",
                    help="every server runs the reference's software (harness self-test): "
                    "ref: expectations apply to all, peer: ones to none")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    try:
        return run(args)
    except (InputError, OSError, ValueError, dns.exception.DNSException) as e:
        print("dnscompare: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
