#!/usr/bin/env python3
"""Recall and precision per detector for benches/scripts/mask-side-by-side.sh.

    mask-eval.py LABELS.tsv FOUND [--format jsonl|tsv] [--mode exact|overlap] [--limit BYTES]
                 [--map presidio]

LABELS.tsv: start<TAB>end<TAB>detector (gen_corpus). FOUND: `guard-gateway mask --findings`
output (jsonl) or start<TAB>end<TAB>name regions (tsv, from hs_compare or the Presidio runner).
exact: a finding is a true positive when span and detector equal a label's. overlap: when it
overlaps a label of the same detector (the fair measure for engines that report match ends or
merge matches differently). Only labels below --limit count (for a slice).
"""
import argparse
import bisect
import json
from collections import defaultdict

# Presidio entity -> our detector names it may stand for.
PRESIDIO = {
    "CREDIT_CARD": {"credit_card"}, "EMAIL_ADDRESS": {"email"}, "PHONE_NUMBER": {"phone"},
    "US_SSN": {"us_ssn"}, "US_ITIN": {"us_itin"}, "IBAN_CODE": {"iban"},
    "IP_ADDRESS": {"ipv4", "ipv6"}, "US_BANK_NUMBER": {"us_routing_number"},
    "UK_NINO": {"uk_nino"}, "MAC_ADDRESS": {"mac_address"},
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("labels")
    ap.add_argument("found")
    ap.add_argument("--format", default="jsonl")
    ap.add_argument("--mode", default="exact")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--map", default=None)
    a = ap.parse_args()

    labels = defaultdict(list)
    for line in open(a.labels):
        s, e, d = line.rstrip("\n").split("\t")
        s, e = int(s), int(e)
        if a.limit is None or e <= a.limit:
            labels[d].append((s, e))
    found = defaultdict(list)
    for line in open(a.found):
        if not line.strip():
            continue
        if a.format == "jsonl":
            o = json.loads(line)
            s, e, d = o["start"], o["end"], o["detector"]
        else:
            s, e, d = line.rstrip("\n").split("\t")
            s, e = int(s), int(e)
        if a.limit is None or e <= a.limit:
            found[d].append((s, e))
    for v in list(labels.values()) + list(found.values()):
        v.sort()

    def targets(d):
        if a.map == "presidio":
            return PRESIDIO.get(d, set())
        return {d}

    # Which labels each finding hits.
    hit = set()
    rows = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn per detector
    for d, spans in found.items():
        for (s, e) in spans:
            ok = False
            for t in targets(d):
                ls = labels.get(t, [])
                if a.mode == "exact":
                    i = bisect.bisect_left(ls, (s, e))
                    if i < len(ls) and ls[i] == (s, e):
                        ok = True
                        hit.add((t, s, e))
                else:
                    i = bisect.bisect_left(ls, (e, -1))
                    j = i - 1
                    # Labels do not overlap, so their ends are sorted too.
                    while j >= 0 and ls[j][1] > s:
                        ok = True
                        hit.add((t, ls[j][0], ls[j][1]))
                        j -= 1
            key = d if a.map != "presidio" else d
            rows[key][0 if ok else 1] += 1
    covered = set()
    for d in found:
        covered |= targets(d)
    miss = defaultdict(int)
    for d, ls in labels.items():
        for (s, e) in ls:
            if (d, s, e) not in hit:
                miss[d] += 1
    print(f"{'detector':<22} {'labels':>7} {'found':>7} {'recall':>8} {'precision':>9}")
    tot_l = tot_hit = tot_tp = tot_f = 0
    for d in sorted(labels):
        n = len(labels[d])
        h = n - miss[d]
        tot_l += n
        tot_hit += h
        if a.map == "presidio":
            print(f"{d:<22} {n:>7} {h:>7} {h / max(n, 1):>8.4f} {'':>9}")
        else:
            tp, fp = rows[d][0], rows[d][1]
            print(f"{d:<22} {n:>7} {tp + fp:>7} {h / max(n, 1):>8.4f} {tp / max(tp + fp, 1):>9.4f}")
    for d in sorted(found):
        if a.map == "presidio" or d not in labels:
            tp, fp, _ = rows[d]
            print(f"{'  ' + d:<22} {'':>7} {tp + fp:>7} {'':>8} {tp / max(tp + fp, 1):>9.4f}")
    for d, (tp, fp, _) in rows.items():
        tot_tp += tp
        tot_f += tp + fp
    print(f"{'TOTAL':<22} {tot_l:>7} {tot_f:>7} {tot_hit / max(tot_l, 1):>8.4f} {tot_tp / max(tot_f, 1):>9.4f}")
    if a.map == "presidio":
        cl = sum(len(labels[d]) for d in labels if d in covered)
        ch = sum(len(labels[d]) - miss[d] for d in labels if d in covered)
        print(f"{'TOTAL (types it covers)':<22} {cl:>7} {'':>7} {ch / max(cl, 1):>8.4f}")


if __name__ == "__main__":
    main()
