#!/usr/bin/env python3
"""Presidio analyzer, regex recognizers only, over a slice of the corpus.

    presidio_runner.py CORPUS BYTES MODEL_DIR REGIONS_OUT.tsv

Uses spacy.blank("en") saved to MODEL_DIR as the NLP model (no model download), removes the
NER-based SpacyRecognizer so only pattern recognizers (regex + their validators) run, and
analyzes the slice in blocks of whole lines (about 16 KiB). Prints
`presidio_mb_per_s X` and writes start<TAB>end<TAB>ENTITY regions (offsets into the corpus).
"""
import os
import sys
import time

import spacy
import tldextract

# Presidio's e-mail and URL checks call tldextract, which would download the public suffix
# list; use the snapshot bundled with tldextract instead (no network here).
tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())

from presidio_analyzer import AnalyzerEngine  # noqa: E402
from presidio_analyzer.nlp_engine import NlpEngineProvider  # noqa: E402


def main():
    corpus, nbytes, model_dir, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if not os.path.isdir(model_dir):
        spacy.blank("en").to_disk(model_dir)
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model_dir}],
    })
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    for name in ("SpacyRecognizer",):
        try:
            analyzer.registry.remove_recognizer(name)
        except Exception:  # noqa: BLE001 - absent in some versions
            pass
    with open(corpus, "rb") as f:
        data = f.read(nbytes)
    cut = data.rfind(b"\n") + 1
    data = data[:cut]
    # Analyze blocks of whole lines (about 16 KiB each): one call per line costs far more in
    # per-call overhead than in matching.
    blocks = []
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + 16384) + 1
        if end <= start:
            end = data.find(b"\n", start) + 1 or len(data)
        blocks.append((start, data[start:end]))
        start = end
    out = []
    t0 = time.monotonic()
    for off, raw in blocks:
        text = raw.decode("ascii", "replace")  # the corpus is ASCII: offsets stay byte offsets
        for r in analyzer.analyze(text=text, language="en"):
            out.append((off + r.start, off + r.end, r.entity_type))
    dt = time.monotonic() - t0
    with open(out_path, "w") as f:
        for s, e, t in out:
            f.write(f"{s}\t{e}\t{t}\n")
    print(f"presidio_bytes {len(data)}")
    print(f"presidio_seconds {dt:.2f}")
    print(f"presidio_mb_per_s {len(data) / 1e6 / dt:.3f}")
    print("presidio_recognizers " + ",".join(sorted({r.name for r in analyzer.registry.recognizers})))


if __name__ == "__main__":
    main()
