#!/usr/bin/env bash
# Boilerplate quality on a labelled set of scraped pages (default: the WCXB development set):
# cleans the whole set as one corpus with the default configuration, then scores word 4-gram
# precision, recall and F1 against the true main text, and the leak of known boilerplate
# snippets, for each page type.
#
#   benches/quality.sh [SET.jsonl.gz] [gleaner clean options...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
set_path=${1:-$root/../shared/data/wcxb-dev.jsonl.gz}
shift || true
(cd "$root" && cargo build --release --quiet)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gunzip -c "$set_path" > "$tmp/reference.jsonl"
"$root/target/release/gleaner" clean "$tmp/reference.jsonl" -o "$tmp/clean.jsonl" \
  --report "$tmp/report.json" --quiet "$@"
echo "| page type | pages | precision | recall | F1 | leak |"
echo "|---|---|---|---|---|---|"
for type in article service listing forum product documentation collection; do
  python3 "$here/quality/score_boilerplate.py" "$tmp/reference.jsonl" "$tmp/clean.jsonl" \
    --page-type "$type" --ngram 4 > "$tmp/score.txt"
  python3 - "$type" "$tmp/score.txt" <<'PY'
import re, sys
kind, path = sys.argv[1], sys.argv[2]
text = open(path).read()
docs = re.search(r"(\d+) docs", text)
leak = re.search(r"leak=([0-9.]+)", text)
row = re.search(r"^\s*4\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)", text, re.M)
p, r, f = row.groups() if row else ("n/a",) * 3
print(f"| {kind} | {docs.group(1) if docs else 'n/a'} | {p} | {r} | {f} | {leak.group(1) if leak else 'n/a'} |")
PY
done
