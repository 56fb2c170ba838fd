//! Micro-benchmarks of the per-byte work, reported as bytes/s:
//! `cargo bench --bench throughput`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use gleaner::corpus::record::RawRecord;
use gleaner::decision::{Reason, Removal};
use gleaner::{edit, text};

/// About 1 MB of scraped news: the seed documents, repeated.
fn corpus_text() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/seeds");
    let mut seeds: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    let one = seeds.join("\n");
    one.repeat((1 << 20) / one.len() + 1)
}

fn jsonl_lines(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|t| {
            serde_json::json!({"id": "x", "url": "https://example.org", "text": t}).to_string()
        })
        .collect()
}

fn text_steps(c: &mut Criterion) {
    let corpus = corpus_text();
    let mut group = c.benchmark_group("text");
    group.throughput(Throughput::Bytes(corpus.len() as u64));
    group.bench_function("segment", |b| {
        b.iter(|| text::blocks(black_box(&corpus)).len())
    });
    group.bench_function("normalize", |b| {
        let mut out = String::new();
        b.iter(|| {
            let mut n = 0;
            for line in corpus.lines() {
                text::normalize_into(line, &mut out);
                n += out.len();
            }
            n
        })
    });
    group.bench_function("edit-plan-and-apply", |b| {
        let blocks = text::blocks(&corpus);
        // Every tenth line removed, as boilerplate removal does.
        let removals: Vec<Removal> = blocks
            .iter()
            .step_by(10)
            .map(|bl| Removal {
                start: bl.start,
                end: bl.end,
                reason: Reason::RepeatedLine,
            })
            .collect();
        b.iter(|| {
            let spans = edit::plan(&corpus, &blocks, removals.clone());
            edit::apply(&corpus, &spans).len()
        })
    });
    group.finish();
}

fn jsonl(c: &mut Criterion) {
    let corpus = corpus_text();
    let lines = jsonl_lines(&corpus);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut group = c.benchmark_group("jsonl");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            lines
                .iter()
                .map(|l| {
                    RawRecord::parse(l)
                        .unwrap()
                        .string("text")
                        .unwrap()
                        .unwrap()
                        .len()
                })
                .sum::<usize>()
        })
    });
    group.bench_function("write", |b| {
        let records: Vec<RawRecord> = lines.iter().map(|l| RawRecord::parse(l).unwrap()).collect();
        let mut out = Vec::with_capacity(bytes);
        b.iter(|| {
            out.clear();
            for r in &records {
                r.write_with(&mut out, "text", "cleaned", &serde_json::Map::new(), &[]);
                out.push(b'\n');
            }
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, text_steps, jsonl);
criterion_main!(benches);
