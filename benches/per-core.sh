#!/usr/bin/env bash
# Throughput of the full `gleaner clean` (rules, repeated lines, passages, documents) per core:
# the release binary pinned to one core (`taskset -c 0`, one worker thread; the reader and writer
# threads share that core), then on every core of the machine, N runs each in alternation. Prints
# the median wall and CPU seconds, peak RSS, MB/s, and MB/s per core of each; the output of the
# two runs is checked to be byte-identical. The corpus is `benches/compare.sh`'s 100mb one
# (generated on first use).
#
#   benches/per-core.sh [N] [CORPUS]     # default N = 5, CORPUS = benches/data/c-100mb.jsonl
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
n=${1:-5}
corpus=${2:-$root/benches/data/c-100mb.jsonl}
if [ ! -f "$corpus" ]; then
  mkdir -p "$(dirname "$corpus")"
  python3 "$here/compare/gen_corpus.py" --docs 18000 --seed 7 --out "$corpus"
fi
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin=$root/target/release/gleaner
cores=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bytes=$(stat -c %s "$corpus")
for i in $(seq "$n"); do
  for mode in one all; do
    out=$work/$mode.jsonl
    rm -f "$out"
    if [ "$mode" = one ]; then
      /usr/bin/time -f "%e %U %S %M" -o "$work/time" taskset -c 0 "$bin" clean "$corpus" -o "$out" --quiet --threads 1
    else
      /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$bin" clean "$corpus" -o "$out" --quiet
    fi
    echo "$mode $(cat "$work/time")" >>"$work/runs"
  done
done
cmp -s "$work/one.jsonl" "$work/all.jsonl" && echo "outputs: byte-identical" || { echo "outputs: DIFFERENT"; exit 1; }
python3 - "$work/runs" "$bytes" "$cores" <<'PY'
import statistics, sys
runs, size, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = {}
for line in open(runs):
    mode, wall, user, system, rss = line.split()
    rows.setdefault(mode, []).append((float(wall), float(user) + float(system), int(rss) / 1024))
mb = size / 1e6
for mode, label, n in (("one", "1 core (taskset -c 0, --threads 1)", 1), ("all", f"{cores} cores", cores)):
    wall = statistics.median(r[0] for r in rows[mode])
    cpu = statistics.median(r[1] for r in rows[mode])
    rss = statistics.median(r[2] for r in rows[mode])
    print(f"{label}: {wall:.2f} s wall, {cpu:.2f} CPU-s, {rss:.0f} MiB peak, "
          f"{mb / wall:.1f} MB/s, {mb / wall / n:.1f} MB/s per core ({len(rows[mode])} runs, {mb:.1f} MB)")
PY
