#!/usr/bin/env python3
"""Precision and recall of gleaner's near-dup-passage removals on a generated corpus.

The bench scorer (score_dedup.py --unit paragraph) counts every paragraph of a dropped
document as removed and leaves paragraph-level planted precision undefined. This script
looks at the passage removals themselves, from the explain file: a removal is correct when
it is a planted passage copy, or when its document is a planted copy of the named source's
story (same original). Anything else is printed with the canonical 5-gram containment of
the passage in the named source span.

usage: score_passages.py CORPUS.jsonl EXPLAIN.jsonl   (truth: CORPUS.jsonl.truth.jsonl)
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compare"))
from shingles import paragraphs, shingle_set  # noqa: E402


def main(corpus, explain):
    texts = {}
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            texts[d["id"]] = d["text"]
    copy_of, passages, boiler = {}, set(), {}
    with open(corpus + ".truth.jsonl", encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            if t["kind"] in ("near", "exact"):
                copy_of[t["doc"]] = t["src_doc"]
            elif t["kind"] == "passage":
                passages.add((t["doc"], t["para"]))
            else:
                boiler[(t["doc"], t["para"])] = t["template"]

    def original(d):
        while d in copy_of:
            d = copy_of[d]
        return d

    kinds, found, wrong = {}, set(), []
    with open(explain, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["reason"] != "near-dup-passage":
                continue
            j = paragraphs(texts[r["id"]]).index(r["text"].strip())
            key, src = (r["id"], j), r["source_id"]
            if key in passages:
                kind = "planted passage"
                found.add(key)
            elif original(r["id"]) == original(src) and (r["id"] in copy_of or src in copy_of):
                kind = "paragraph of a planted document copy"
            elif key in boiler:
                kind = "boilerplate line: " + boiler[key]
            else:
                kind = "other"
            if not kind.startswith(("planted", "paragraph")):
                s = shingle_set(r["text"])
                source = texts[src][r["source_start"]:r["source_end"]]
                wrong.append((r["score"], len(s & shingle_set(source)) / max(1, len(s)), r["text"][:120]))
            kinds[kind] = kinds.get(kind, 0) + 1
    total = sum(kinds.values())
    good = total - len(wrong)
    for kind, n in sorted(kinds.items(), key=lambda x: -x[1]):
        print(f"  {kind:40s} {n:7d}")
    print(f"passage removals: {total}, precision {good / max(1, total):.4f}; "
          f"planted passages removed as near-dup-passage: {len(found)} / {len(passages)} "
          f"= {len(found) / max(1, len(passages)):.4f}")
    for score, cont, text in wrong[:20]:
        print(f"  not supported by the truth: score {score:.3f}, 5-gram containment {cont:.3f}: {text}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
