#!/usr/bin/env bash
# Runs the staged commands on a one-node Slurm cluster and checks that the output equals
# `gleaner clean`, byte for byte, then that a failed scan task stops the later stages and that a
# resubmission reruns only what failed.
#
#   ci/slurm-test.sh            (as root: installs and starts Slurm with ci/slurm-local.sh)
#
# Not as root, it uses a Slurm cluster that is already running. GLEANER=/path/to/gleaner skips
# the release build and tests that binary.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wait_timeout=${SLURM_TEST_TIMEOUT:-300}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() {
  echo "ok: $*"
}

if [ "$(id -u)" = 0 ]; then
  own_cluster=1
elif command -v sbatch >/dev/null && sinfo -h >/dev/null 2>&1; then
  own_cluster=0
  echo "not root: using the Slurm cluster that is already running"
else
  fail "needs root to install and start Slurm (ci/slurm-local.sh), or a running Slurm cluster with sbatch on PATH"
fi

tmp=$(mktemp -d /tmp/gleaner-slurm-test.XXXXXX)
cleanup() {
  status=$?
  if [ "$own_cluster" = 1 ]; then
    "$repo/ci/slurm-local.sh" stop || true
  fi
  if [ "$status" = 0 ]; then
    rm -rf "$tmp"
  else
    echo "work folders kept in $tmp" >&2
  fi
}
trap cleanup EXIT

if [ "$own_cluster" = 1 ]; then
  "$repo/ci/slurm-local.sh" start
  ok "one-node Slurm cluster is up"
fi

if [ -n "${GLEANER:-}" ]; then
  gleaner=$(realpath "$GLEANER")
else
  (cd "$repo" && cargo build --release --quiet)
  gleaner=${CARGO_TARGET_DIR:-$repo/target}/release/gleaner
fi
[ -x "$gleaner" ] || fail "no gleaner binary at $gleaner"
ok "gleaner binary: $gleaner"

# A corpus of 2000 documents with planted near-duplicates, split into 40 files so that copies
# and their sources land in different files (and different scan tasks).
corpus=$tmp/corpus
mkdir -p "$corpus" "$tmp/gen"
python3 "$repo/benches/compare/gen_corpus.py" --docs 2000 --seed 7 --jobs 1 \
  --out "$tmp/gen/all.jsonl" >/dev/null
split -l 50 -d -a 2 --additional-suffix=.jsonl "$tmp/gen/all.jsonl" "$corpus/part-"
[ "$(find "$corpus" -name 'part-*.jsonl' | wc -l)" = 40 ] || fail "expected 40 corpus files"
[ -s "$corpus/part-39.jsonl" ] || fail "part-39.jsonl is empty"
ok "corpus: 40 files, $(cat "$corpus"/*.jsonl | wc -l) documents"

"$gleaner" clean "$corpus" -o "$tmp/ref" --quiet
ok "reference: gleaner clean"

# Waits until no gleaner job of this user is left in the queue. A job held forever by a dependency that
# can no longer be met is cancelled (and counted as gone).
job_names=gleaner-scan,gleaner-resolve,gleaner-merge,gleaner-apply
wait_for_queue() {
  local user deadline left ids
  user=$(id -un)
  deadline=$((SECONDS + wait_timeout))
  while :; do
    if ! left=$(squeue -h -u "$user" -n "$job_names" -o '%F %r'); then
      left="squeue failed"
    elif [ -z "$left" ]; then
      return 0
    elif ! grep -qv 'DependencyNeverSatisfied' <<<"$left"; then
      ids=$(awk '{print $1}' <<<"$left" | tr '\n' ' ')
      echo "cancelling jobs whose dependency failed: $ids"
      # shellcheck disable=SC2086
      scancel $ids || true
      sleep 1
      continue
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "jobs still queued after ${wait_timeout}s:" >&2
      squeue -u "$user" -n "$job_names" >&2 || true
      show_logs "$1"
      fail "timed out waiting for the jobs of $1"
    fi
    sleep 1
  done
}

show_logs() {
  local work=$1 f
  for f in "$work"/logs/*; do
    [ -f "$f" ] || continue
    echo "--- $f" >&2
    tail -n 20 "$f" >&2
  done
  if [ "$own_cluster" = 1 ]; then
    echo "--- slurmctld.log" >&2
    tail -n 20 /var/log/slurm/slurmctld.log >&2 || true
  fi
}

# Every done marker of a work folder with N scan, P resolve and M apply tasks.
markers() {
  local work=$1 n=$2 p=$3 m=$4 i
  for ((i = 0; i < n; i++)); do echo "$work/scan/$i.done"; done
  for ((i = 0; i < p; i++)); do echo "$work/resolve/$i.done"; done
  echo "$work/merge/done"
  for ((i = 0; i < m; i++)); do echo "$work/apply/$i-of-$m.done"; done
}

# Fails unless every marker exists (sbatch's own exit status says nothing about the jobs).
expect_all_markers() {
  local work=$1 missing=0 f
  shift
  while read -r f; do
    if [ ! -e "$f" ]; then
      echo "missing done marker: $f" >&2
      missing=1
    fi
  done < <(markers "$work" "$@")
  if [ "$missing" = 1 ]; then
    show_logs "$work"
    fail "not every task of $work finished"
  fi
}

expect_same_output() {
  if ! diff -r "$tmp/ref" "$1" >"$tmp/diff.txt"; then
    head -n 20 "$tmp/diff.txt" >&2
    fail "$1 differs from the output of gleaner clean"
  fi
}

# Run 1: plan, submit, wait; every task ran and the output equals the reference.
w1=$tmp/w1
"$gleaner" plan "$corpus" --work "$w1" -o "$tmp/out1" --scan-tasks 4 --resolve-tasks 3 --quiet
"$gleaner" slurm submit --work "$w1" --apply-tasks 5
wait_for_queue "$w1"
expect_all_markers "$w1" 4 3 5
ok "run 1: all 4 scan, 3 resolve, merge and 5 apply tasks done"
expect_same_output "$tmp/out1"
ok "run 1: output equals gleaner clean"

# Run 2: a file of scan task 1 changes after plan; that task fails and nothing after scan runs.
w2=$tmp/w2
"$gleaner" plan "$corpus" --work "$w2" -o "$tmp/out2" --scan-tasks 4 --resolve-tasks 3 --quiet

# The file to change: scan shards are contiguous ranges of the sorted files, about equal in
# bytes, so with 40 files of about the same size task 1 reads part-10..part-19.
victim=part-15.jsonl
cp -p "$corpus/$victim" "$tmp/$victim.orig"
echo '{"id": "changed-after-plan", "text": "This line was added after the plan."}' >>"$corpus/$victim"

"$gleaner" slurm submit --work "$w2" --apply-tasks 2
wait_for_queue "$w2"
[ ! -e "$w2/scan/1.done" ] || fail "scan task 1 finished although $victim changed after plan"
for i in 0 2 3; do
  [ -e "$w2/scan/$i.done" ] || { show_logs "$w2"; fail "scan task $i did not finish"; }
done
later=$(find "$w2/resolve" "$w2/merge" "$w2/apply" -type f 2>/dev/null | grep -E '(\.done|/done)$' || true)
[ -z "$later" ] || fail "stages after the failed scan ran: $later"
ok "run 2: changed $victim fails scan task 1; tasks 0, 2, 3 done; resolve, merge, apply did not run"

# Restore the file and resubmit: only scan task 1 and the later stages run.
cp -p "$tmp/$victim.orig" "$corpus/$victim"
before=$(for i in 0 2 3; do stat -c "$i %i %Y %s" "$w2/scan/$i.done"; cat "$w2/scan/$i.done"; done)
sleep 1
"$gleaner" slurm submit --work "$w2" --apply-tasks 2
wait_for_queue "$w2"
expect_all_markers "$w2" 4 3 2
after=$(for i in 0 2 3; do stat -c "$i %i %Y %s" "$w2/scan/$i.done"; cat "$w2/scan/$i.done"; done)
[ "$before" = "$after" ] || fail "the resubmission reran scan tasks that had finished"
ok "run 2 resubmitted: all tasks done, scan tasks 0, 2, 3 untouched"
expect_same_output "$tmp/out2"
ok "run 2: output equals gleaner clean"

echo "all Slurm checks passed"
