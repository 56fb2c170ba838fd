#!/usr/bin/env python3
"""Run dedup runners (runners.json) on corpora: time them, score them, tabulate.

For every (runner, corpus): WARMUP + RUNS whole-process runs of the runner's
command (no shell; stdout/stderr to a log file).  Each run is measured from
outside with os.wait4: wall seconds (monotonic clock around the process),
CPU seconds (user + system of the process and the children it waited for) and
peak RSS (the largest single process among them, as the kernel reports
ru_maxrss).  Medians are reported; min/max are kept in the JSON.  The output of
the last run is scored with score_dedup.py (planted + brute-force truth).

Results: OUT/<corpus-stem>/<runner>/{removed.txt,log.txt,metrics.json,score.txt}
and OUT/results.md (a table over everything under OUT).

Standard library only (the runners themselves need their own packages).
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def timed_run(argv, log_path, timeout):
    with open(log_path, "ab") as log:
        log.write(f"\n$ {shlex.join(argv)}\n".encode())
        log.flush()
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=HERE, start_new_session=True)
        except OSError as e:  # e.g. --tool not given / not built
            log.write(f"cannot start: {e}\n".encode())
            return {"rc": 127, "wall": 0.0, "cpu": 0.0, "user": 0.0, "sys": 0.0, "peak_mib": 0.0}
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(p.pid, 9)
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": p.returncode, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
            "user": ru.ru_utime, "sys": ru.ru_stime, "peak_mib": ru.ru_maxrss / 1024}


def fill(s, **kw):
    return s.format(**kw)


def med(runs, k):
    xs = [r[k] for r in runs]
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def run_one(r, corpus, o):
    stem = os.path.splitext(os.path.basename(corpus))[0]
    out = os.path.abspath(os.path.join(o.out, stem, r["name"]))
    os.makedirs(out, exist_ok=True)
    removed = os.path.join(out, "removed.txt")
    kw = dict(python=o.python, tool=o.tool or "TOOL", input=os.path.abspath(corpus),
              removed=removed, out=out)
    argv = shlex.split(fill(r["cmd"], **kw))
    log = os.path.join(out, "log.txt")
    open(log, "w").close()
    runs = []
    n = o.warmup + o.runs if o.runs > 0 else 1
    outputs = [removed] + ([fill(r["kept"], **kw)] if r.get("kept") else [])
    for i in range(n):
        # Every run writes new files: replacing a file by rename makes ext4 flush its data to
        # disk at once (auto_da_alloc), which would time the disk rather than the runner.
        for path in outputs:
            if os.path.exists(path):
                os.remove(path)
        res = timed_run(argv, log, o.timeout)
        print(f"  [{r['name']} {stem}] run {i + 1}/{n}: rc={res['rc']} wall={res['wall']:.2f}s "
              f"cpu={res['cpu']:.2f}s peak={res['peak_mib']:.0f}MiB", file=sys.stderr, flush=True)
        if res["rc"] != 0:
            print(f"  runner failed, see {log}", file=sys.stderr)
            return None
        if o.runs == 0 or i >= o.warmup:
            runs.append(res)
    size = os.path.getsize(corpus)
    m = {"runner": r["name"], "unit": r["unit"], "corpus": stem, "corpus_bytes": size,
         "cmd": r["cmd"], "runs": runs, "timed": o.runs > 0}
    for k in ("wall", "cpu", "peak_mib"):
        m[k] = med(runs, k)
    m["mb_per_s"] = size / 1e6 / m["wall"]["median"]
    if not o.no_score:
        sc = [sys.executable, os.path.join(HERE, "score_dedup.py"), "--corpus", os.path.abspath(corpus),
              "--unit", r["unit"], "--json", os.path.join(out, "score.json"), "--name", r["name"]]
        if r.get("kept"):
            sc += ["--kept", fill(r["kept"], **kw)]
        else:
            sc += ["--removed", removed]
        if o.no_brute:
            sc.append("--no-brute")
        if o.max_docs is not None:
            sc += ["--max-docs", str(o.max_docs)]
        with open(os.path.join(out, "score.txt"), "w") as f:
            subprocess.run(sc, stdout=f, check=True)
        with open(os.path.join(out, "score.txt")) as f:
            sys.stdout.write(f.read())
        with open(os.path.join(out, "score.json")) as f:
            m["score"] = json.load(f)
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(m, f, indent=1)
    return m


def table(out_dir, reference=None):
    rows = []
    for root, _, files in os.walk(out_dir):
        if "metrics.json" in files:
            with open(os.path.join(root, "metrics.json")) as f:
                rows.append(json.load(f))
    rows.sort(key=lambda m: (m["corpus_bytes"], m["unit"], m["runner"]))

    def f(x, d=3):
        return "n/a" if x is None or x != x else f"{x:.{d}f}"

    ref_wall = {m["corpus"]: m["wall"]["median"] for m in rows
                if m["runner"] == reference and m.get("timed", True)}
    lines = ["| runner | unit | corpus | MB | wall s | cpu s | MB/s | wall / {} | peak RSS MiB | P brute | R brute | P planted | R planted |".format(reference or "ref"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in rows:
        s = m.get("score", {})
        b, p = s.get("brute", {}), s.get("planted", {})
        timed = m.get("timed", True)
        ratio = (m["wall"]["median"] / ref_wall[m["corpus"]]) if timed and m["corpus"] in ref_wall else None
        lines.append("| {} | {} | {} | {:.0f} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            m["runner"], m["unit"], m["corpus"], m["corpus_bytes"] / 1e6,
            f(m["wall"]["median"], 1) if timed else "-", f(m["cpu"]["median"], 1) if timed else "-",
            f(m["mb_per_s"], 2) if timed else "-", f(ratio, 1) if ratio is not None else "-",
            f(m["peak_mib"]["median"], 0) if timed else "-",
            f(b.get("precision")), f(b.get("recall")), f(p.get("precision")), f(p.get("recall"))))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "results.md"), "w") as fo:
        fo.write(text)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", default=[], help="corpus JSONL (repeatable)")
    ap.add_argument("--runners", default=os.path.join(HERE, "runners.json"))
    ap.add_argument("--only", nargs="*", help="runner names to run (also enables disabled ones)")
    ap.add_argument("--python", default=os.environ.get("PEERS_PYTHON", sys.executable),
                    help="interpreter with the peer packages (default $PEERS_PYTHON or this one)")
    ap.add_argument("--tool", default=os.environ.get("DEDUP_TOOL"), help="path of the tool binary for {tool}")
    ap.add_argument("--runs", type=int, default=3, help="timed runs (0 = one untimed run, score only)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--no-score", action="store_true")
    ap.add_argument("--no-brute", action="store_true", help="score against planted truth only")
    ap.add_argument("--max-docs", type=int, help="passed to score_dedup.py (0 = no brute-force cap)")
    ap.add_argument("--table-only", action="store_true", help="just rebuild OUT/results.md")
    ap.add_argument("--reference", help="runner whose wall time the others are divided by")
    o = ap.parse_args()
    if not o.table_only:
        with open(o.runners) as f:
            runners = json.load(f)["runners"]
        if o.only:
            names = {r["name"] for r in runners}
            unknown = set(o.only) - names
            if unknown:
                raise SystemExit(f"unknown runner(s): {sorted(unknown)}; known: {sorted(names)}")
            runners = [r for r in runners if r["name"] in o.only]
        else:
            runners = [r for r in runners if r.get("enabled", True)]
        for corpus in o.corpus:
            for r in runners:
                run_one(r, corpus, o)
    print(table(o.out, o.reference))


if __name__ == "__main__":
    main()
