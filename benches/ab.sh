#!/bin/bash
# Same-sitting A/B of two gleaner binaries: alternates them (ABBA order) N times each on one
# corpus with `gleaner clean`, then prints the median seconds of each stage (from --report), wall
# time, CPU time and peak RSS, and whether the two outputs are byte-identical. The machines are
# shared and noisy: compare the two lines of one run, not runs of different days.
#
#   benches/ab.sh OLD_BINARY NEW_BINARY CORPUS N [extra clean arguments...]
#   e.g. benches/ab.sh /tmp/gleaner-before target/release/gleaner benches/data/c-100mb.jsonl 6
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n 2,8p "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
old=$1 new=$2 corpus=$3 n=$4
shift 4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/runs.tsv
for i in $(seq "$n"); do
  if [ $((i % 2)) = 1 ]; then order="old new"; else order="new old"; fi
  for which in $order; do
    bin=$old; [ "$which" = new ] && bin=$new
    out=$work/$which
    rm -rf "$out"; mkdir -p "$out"
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$bin" clean "$corpus" -o "$out/kept.jsonl" \
      --quiet --report "$out/report.json" "$@"
    python3 - "$which" "$out/report.json" "$work/time" >>"$log" <<'PY'
import json, sys
which, report, timing = sys.argv[1:]
seconds = json.load(open(report))["seconds"]
wall, user, system, rss = open(timing).read().split()
fields = {**seconds, "wall": float(wall), "cpu": float(user) + float(system), "rss_mib": int(rss) / 1024}
print(which, json.dumps(fields))
PY
  done
done
if cmp -s "$work/old/kept.jsonl" "$work/new/kept.jsonl"; then
  echo "outputs: byte-identical"
else
  echo "outputs: DIFFERENT"
fi
python3 - "$log" <<'PY'
import collections, json, statistics, sys
runs = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    which, fields = line.split(" ", 1)
    for k, v in json.loads(fields).items():
        runs[which][k].append(v)
for which in ("old", "new"):
    print(which, " ".join(f"{k}={statistics.median(v):.3f}" for k, v in runs[which].items()))
PY
