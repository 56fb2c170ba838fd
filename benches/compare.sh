#!/usr/bin/env bash
# Side-by-side comparison of gleaner and the Python peers (datasketch, rensa, datatrove,
# text-dedup) on one generated news corpus with planted copies: wall and CPU time, peak memory,
# MB/s, the ratio to gleaner, and precision/recall on the planted copies and against brute force.
#
#   benches/compare.sh smoke     #  2,000 documents (~11 MB), one run each: checks the harness
#   benches/compare.sh 100mb     # 18,000 documents (~100 MB), 1 warm-up + 3 timed runs
#   benches/compare.sh 1gb       # 180,000 documents (~1 GB), 1 warm-up + 3 timed runs, planted truth only
#
# Extra arguments go to bench.py (e.g. --only gleaner-doc rensa). The peers are installed into
# .peers-venv (Python 3.11, versions in benches/compare/peers/requirements.txt); corpora go to
# benches/data/, results to benches/results/<corpus>/ and the table to benches/results/results.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
size=${1:-smoke}
shift || true
case $size in
  smoke) docs=2000 seed=7 runs=1 warmup=0 brute=() ;;
  100mb) docs=18000 seed=7 runs=3 warmup=1 brute=() ;;
  1gb) docs=180000 seed=11 runs=3 warmup=1 brute=(--no-brute) ;;
  *) echo "usage: $0 smoke|100mb|1gb [bench.py options]" >&2; exit 2 ;;
esac

venv=$root/.peers-venv
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.installed" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$here/compare/peers/requirements.txt"
  touch "$venv/.installed"
fi

mkdir -p "$here/data"
corpus=$here/data/c-$size.jsonl
if [ ! -f "$corpus" ]; then
  python3 "$here/compare/gen_corpus.py" --docs "$docs" --seed "$seed" --out "$corpus"
fi

(cd "$root" && cargo build --release --quiet)

python3 "$here/compare/bench.py" --corpus "$corpus" --tool "$root/target/release/gleaner" \
  --python "$venv/bin/python" --runs "$runs" --warmup "$warmup" --out "$here/results" \
  --reference gleaner-doc "${brute[@]}" "$@"
