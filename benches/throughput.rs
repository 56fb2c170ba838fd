//! Micro-benchmarks of the per-byte work (segmenting, normalizing, tokenizing, shingling, MinHash,
//! the per-document scans, JSONL parsing and writing, resolve's occurrence sort), reported as
//! bytes/s:
//! `cargo bench --bench throughput`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use gleaner::boilerplate::{Boilerplate, BoilerplateConfig};
use gleaner::corpus::record::RawRecord;
use gleaner::decision::{Reason, Removal};
use gleaner::dedup::minhash::MinHasher;
use gleaner::dedup::spread_sort::sort_by_spread_key;
use gleaner::dedup::{DedupConfig, Scanner};
use gleaner::text::tokens::{Shingler, Token, Tokenizer};
use gleaner::{edit, text};

/// The seed documents: scraped news pages.
fn seeds() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/seeds");
    let mut seeds: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    seeds
}

/// About 1 MB of scraped news: the seed documents, repeated.
fn corpus_text() -> String {
    let one = seeds().join("\n");
    one.repeat((1 << 20) / one.len() + 1)
}

/// About 1 MB of whole documents: the seeds, repeated.
fn corpus_documents() -> Vec<String> {
    let seeds = seeds();
    let one: usize = seeds.iter().map(String::len).sum();
    let copies = (1 << 20) / one + 1;
    (0..copies).flat_map(|_| seeds.iter().cloned()).collect()
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

/// The near-duplicate scan's steps: tokens, shingles, MinHash, and all of them per document.
fn dedup_steps(c: &mut Criterion) {
    let corpus = corpus_text();
    let mut group = c.benchmark_group("dedup");
    group.throughput(Throughput::Bytes(corpus.len() as u64));
    group.bench_function("tokenize", |b| {
        let mut tokenizer = Tokenizer::new(false);
        let mut tokens = Vec::new();
        b.iter(|| {
            let mut n = 0;
            for line in corpus.lines() {
                tokens.clear();
                tokenizer.tokens(line, 0, &mut tokens);
                n += tokens.len();
            }
            n
        })
    });
    let mut tokenizer = Tokenizer::new(false);
    let lines: Vec<Vec<Token>> = corpus
        .lines()
        .map(|line| {
            let mut tokens = Vec::new();
            tokenizer.tokens(line, 0, &mut tokens);
            tokens
        })
        .collect();
    group.bench_function("shingle", |b| {
        let mut shingler = Shingler::new(5, 1);
        b.iter(|| {
            let mut x = 0u64;
            for tokens in &lines {
                shingler.for_each(tokens, |_, _, h| x ^= h);
            }
            x
        })
    });
    let mut shingles = Vec::new();
    let mut shingler = Shingler::new(5, 1);
    for tokens in &lines {
        shingler.for_each(tokens, |_, _, h| shingles.push(h));
    }
    group.bench_function("minhash", |b| {
        let m = MinHasher::new(60, 1);
        // Documents of about 1,000 shingles, as a news article has.
        b.iter(|| {
            shingles
                .chunks(1000)
                .map(|doc| m.signature(doc)[0])
                .fold(0, |a, v| a ^ v)
        })
    });
    group.finish();
    let docs = corpus_documents();
    let mut group = c.benchmark_group("dedup");
    group.throughput(Throughput::Bytes(docs.iter().map(|d| d.len() as u64).sum()));
    group.bench_function("scan-document", |b| {
        let scanner = Scanner::new(&DedupConfig::default());
        b.iter(|| {
            docs.iter()
                .map(|d| scanner.scan(d, &text::blocks(d)).shingles.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

/// The boilerplate step's per-document scan: rules, the content region, repeats in a document.
fn boilerplate_scan(c: &mut Criterion) {
    let docs = corpus_documents();
    let boilerplate = Boilerplate::from_config(&BoilerplateConfig::default())
        .unwrap()
        .expect("enabled by default");
    let mut group = c.benchmark_group("boilerplate");
    group.throughput(Throughput::Bytes(docs.iter().map(|d| d.len() as u64).sum()));
    group.bench_function("scan-document", |b| {
        b.iter(|| {
            docs.iter()
                .map(|d| boilerplate.scan(d).removals.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

/// Resolve's sort of a partition's shingle occurrences (hash, document, position, block): the
/// bucket sort it uses against the standard library's, on a partition's worth of hashes of which
/// a third are shared by pairs of documents.
fn occurrence_sort(c: &mut Criterion) {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let n = 300_000u32;
    let occurrences: Vec<(u64, u32, u32, u32)> = (0..n)
        .map(|i| {
            let h = next() / 12;
            (
                if i % 3 == 0 { h & !0xFFFF } else { h },
                i / 300,
                i % 300,
                i % 300 / 40,
            )
        })
        .collect();
    let mut group = c.benchmark_group("resolve");
    group.throughput(Throughput::Bytes(
        (occurrences.len() * std::mem::size_of::<(u64, u32, u32, u32)>()) as u64,
    ));
    group.bench_function("sort-occurrences-spread", |b| {
        b.iter_batched_ref(
            || occurrences.clone(),
            |o| sort_by_spread_key(o, |o| o.0),
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("sort-occurrences-std", |b| {
        b.iter_batched_ref(
            || occurrences.clone(),
            |o| o.sort_unstable(),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    text_steps,
    jsonl,
    dedup_steps,
    boilerplate_scan,
    occurrence_sort
);
criterion_main!(benches);
