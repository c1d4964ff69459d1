#!/usr/bin/env python3
"""Recall of guard-mask on values from an independent generator (Faker), and what it masks
among Faker's look-alikes.

The accuracy test in guard-mask/tests/accuracy.rs labels a corpus from a generator written
together with the detectors; this script asks the other question: do the values another
project generates, in the shapes it thinks typical, get found?

    python3 -m venv /tmp/v && /tmp/v/bin/pip install faker
    /tmp/v/bin/python benches/scripts/faker-recall.py target/release/guard-gateway [N]

Each value is put in a line of its own, in one of four frames (prose, JSON, CSV, key=value),
after a context word where the detector needs one (an EIN or a routing number). The whole
file goes through `guard-gateway mask --findings` once. A value counts as found when a
finding of the expected detector covers it exactly; "covered" counts any finding that
covers it (masked, under another name or with more around it). Faker also writes values the
catalog leaves out by design (bare ten-digit phone numbers, N11 area codes, JCB numbers
outside 3528-3589, Maestro 0604, 13-digit numbers that are also an EAN-13 with no card word
before them, international numbers in dotted groups of three that read as amounts, French
numbers written as ten bare digits): "in spec" counts the others, and its recall is the one
that matters. For the look-alikes, every finding that touches one is a false positive.
Exits 1 when a type's in-spec recall is below --min-recall (default 0.99) or a look-alike
is masked.
"""

import argparse
import bisect
import json
import random
import subprocess
import sys

from faker import Faker

FRAMES = [
    "note from {who}: {ctx}{v} (see ticket)",
    '{{"user": "{who}", "field": "{ctx}{v}"}}',
    "{who},{ctx}{v},active",
    "{key}={ctx}{v}",
]


def values(n, seed):
    """(type, expected detector or None for a look-alike, value, context prefix)."""
    Faker.seed(seed)
    us = Faker("en_US")
    locales = ["de_DE", "fr_FR", "en_GB", "es_ES", "it_IT", "nl_NL", "pl_PL", "pt_PT", "en_AU"]
    intl = {loc: Faker(loc) for loc in locales}
    cards = ["visa16", "visa13", "visa19", "mastercard", "amex", "discover", "jcb15",
             "jcb16", "diners", "maestro"]
    out = []
    for i in range(n):
        out.append(("card:" + cards[i % len(cards)], "credit_card",
                    us.credit_card_number(cards[i % len(cards)]), ""))
        out.append(("ssn", "us_ssn", us.ssn(), "SSN "))
        out.append(("itin", "us_itin", us.itin(), "ITIN "))
        out.append(("ein", "us_ein", us.ein(), "EIN "))
        out.append(("aba", "us_routing_number", us.aba(), "routing number "))
        out.append(("email", "email", us.email(), ""))
        out.append(("company_email", "email", us.company_email(), ""))
        out.append(("phone_en_US", "phone", us.phone_number(), ""))
        loc = locales[i % len(locales)]
        out.append(("iban:" + loc, "iban", intl[loc].iban(), ""))
        # International numbers: the ones Faker writes with a `+` (national formats without
        # one are not in the catalog).
        p = intl[loc].phone_number()
        while not p.startswith("+"):
            p = intl[loc].phone_number()
        out.append(("phone_intl:" + loc, "phone", p, ""))
        # French national numbers: five pairs, or ten bare digits (not in the catalog).
        p = intl["fr_FR"].phone_number()
        while p.startswith("+"):
            p = intl["fr_FR"].phone_number()
        out.append(("phone_national:fr_FR", "phone", p, ""))
        out.append(("ipv4", "ipv4", us.ipv4(), ""))
        out.append(("ipv6", "ipv6", us.ipv6(), ""))
        out.append(("mac", "mac_address", us.mac_address(), ""))
        # Look-alikes: none of these may be masked.
        out.append(("uuid4", None, us.uuid4(), ""))
        out.append(("sha1", None, us.sha1(), ""))
        out.append(("md5", None, us.md5(), ""))
        out.append(("ean13", None, us.ean13(), ""))
        out.append(("isbn13", None, us.isbn13(), ""))
        out.append(("zipcode_plus4", None, us.zipcode_plus4(), ""))
        out.append(("iso8601", None, us.iso8601(), ""))
        out.append(("price", None, us.pricetag(), ""))
        out.append(("bban", None, us.bban(), ""))
        out.append(("version", None, us.numerify("#.##.###"), ""))
        out.append(("invalid_luhn", None, bad_luhn(us), ""))
    return out


def in_spec(typ, v):
    """Whether guard-mask's documented catalog covers this value (guard-mask/DESIGN.md):
    Faker also writes numbers outside it, which are counted apart."""
    if typ.startswith("card:") and len(v) == 13 and ean13_ok(v):
        return False  # also a product's EAN-13: a card only after a card word (no frame has one)
    if typ == "card:jcb16":
        return 3528 <= int(v[:4]) <= 3589  # JCB's range; Faker uses any 35xx
    if typ == "card:maestro":
        return not v.startswith("0604")  # not a Maestro range in use
    if typ == "phone_national:fr_FR":
        return not v.isdigit()  # ten bare digits: as often another number
    if typ.startswith("phone_intl:"):
        # Dot-separated groups of three after the first read as an amount (`+12.345.678`).
        groups = v.split(".")
        return not (len(groups) > 1 and all(len(g) == 3 and g.isdigit() for g in groups[1:]))
    if typ == "phone_en_US":
        if v.isdigit():
            return False  # bare ten digits: as often an order or account number
        d = "".join(c for c in v.split("x")[0] if c.isdigit())
        if d.startswith("001") and len(d) == 13:
            d = d[3:]
        elif d.startswith("1") and len(d) == 11:
            d = d[1:]
        # NANP: no area code or exchange starting 0 or 1, no N11 service code.
        return d[0] not in "01" and d[1:3] != "11" and d[3] not in "01"
    return True


def ean13_ok(v):
    return (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(v[:12])) % 10) % 10 == int(v[12])


def bad_luhn(fake):
    """A 16-digit number whose Luhn check fails."""
    good = fake.credit_card_number("visa16")
    last = (int(good[-1]) + 1 + random.Random(good).randrange(9)) % 10
    return good[:-1] + str(last)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("guard_bin")
    ap.add_argument("n", nargs="?", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20261208)
    ap.add_argument("--min-recall", type=float, default=0.99)
    ap.add_argument("--show", type=int, default=3, help="misses shown per type")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    names = Faker("en_US")
    names.seed_instance(a.seed)
    items = values(a.n, a.seed)
    buf = bytearray()
    spans = []
    for typ, det, v, ctx in items:
        frame = rng.choice(FRAMES)
        line = frame.format(who=names.first_name().lower(), ctx=ctx, v=v, key="value")
        start = len(buf) + len(line[: line.rindex(ctx + v) + len(ctx)].encode())
        buf += line.encode() + b"\n"
        spans.append((typ, det, v, start, start + len(v.encode())))

    res = subprocess.run([a.guard_bin, "mask", "--findings"], input=bytes(buf),
                         capture_output=True, check=True)
    findings = [json.loads(l) for l in res.stdout.splitlines() if l.strip()]
    findings.sort(key=lambda f: f["start"])

    # The findings that touch a value's span (sorted by start; none is longer than 400
    # bytes here).
    starts = [f["start"] for f in findings]
    stats = {}
    misses = {}
    for typ, det, v, s, e in spans:
        lo = bisect.bisect_left(starts, s - 400)
        near = [f for f in findings[lo:bisect.bisect_right(starts, e)]
                if f["start"] < e and f["end"] > s]
        st = stats.setdefault(typ, [0, 0, 0, det, 0, 0])
        st[0] += 1
        spec = det is not None and in_spec(typ, v)
        st[4] += spec
        if det is None:
            if near:
                st[1] += 1
                misses.setdefault(typ, []).append((v, [f["detector"] for f in near]))
            continue
        if any(f["start"] == s and f["end"] == e and f["detector"] == det for f in near):
            st[1] += 1
            st[5] += spec
        elif any(f["start"] <= s and f["end"] >= e for f in near):
            st[2] += 1
            misses.setdefault(typ, []).append(
                (v, [(f["detector"], bytes(buf[f["start"]:f["end"]]).decode(errors="replace"))
                     for f in near]))
        else:
            misses.setdefault(typ, []).append(
                (v, [(f["detector"], bytes(buf[f["start"]:f["end"]]).decode(errors="replace"))
                     for f in near]))

    bad = False
    print(f"{'type':<22} {'detector':<18} {'n':>6} {'exact':>8} {'covered':>8}"
          f" {'in spec':>8} {'exact':>8}")
    for typ in sorted(stats, key=lambda t: (stats[t][3] is None, t)):
        n, ok, cov, det, n_in, ok_in = stats[typ]
        if det is None:
            print(f"{typ:<22} {'(look-alike)':<18} {n:>6} {'masked':>8} {ok:>8}")
            bad |= ok > 0
        else:
            r_in = ok_in / n_in if n_in else 1.0
            print(f"{typ:<22} {det:<18} {n:>6} {ok / n:>8.4f} {(ok + cov) / n:>8.4f}"
                  f" {n_in:>8} {r_in:>8.4f}")
            bad |= r_in < a.min_recall
    for typ, ms in sorted(misses.items()):
        for v, got in ms[: a.show]:
            print(f"  {typ}: {v!r} -> {got}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
