//! Passage containment and document candidates against brute-force oracles (exact sets, all
//! pairs) on random small corpora.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::docs::{candidates, intersection, is_duplicate};
use super::lsh::candidate_probability;
use super::*;
use crate::decision::{DropReason, Reason};
use crate::text::blocks;

/// A deterministic generator for corpora with copies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: [&str; 16] = [
    "the", "army", "Border", "visit", "met", "general", "of", "Baku", "said", "minister", "peace",
    "talks", "on", "Friday", "ties", "region",
];

/// Documents of 1-5 lines; a line is fresh words or an earlier line with a few edits.
fn corpus(seed: u64, docs: usize) -> Vec<String> {
    corpus_with_copies(seed, docs, false)
}

/// As [`corpus`]; with `copies`, a third of the documents are an earlier document with up to
/// two words changed.
fn corpus_with_copies(seed: u64, docs: usize, copies: bool) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut lines: Vec<Vec<&str>> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for _ in 0..docs {
        if copies && !out.is_empty() && rng.below(3) == 0 {
            let mut words: Vec<String> = out[rng.below(out.len())]
                .split(' ')
                .map(String::from)
                .collect();
            for _ in 0..rng.below(3) {
                let i = rng.below(words.len());
                words[i] = WORDS[rng.below(WORDS.len())].to_string();
            }
            out.push(words.join(" "));
            continue;
        }
        let mut text = String::new();
        for _ in 0..1 + rng.below(5) {
            let line: Vec<&str> = if !lines.is_empty() && rng.below(2) == 0 {
                let mut l = lines[rng.below(lines.len())].clone();
                for _ in 0..rng.below(3) {
                    let i = rng.below(l.len());
                    l[i] = WORDS[rng.below(WORDS.len())];
                }
                l
            } else {
                (0..1 + rng.below(14))
                    .map(|_| WORDS[rng.below(WORDS.len())])
                    .collect()
            };
            text.push_str(&line.join(" "));
            text.push_str(".\n\n");
            lines.push(line);
        }
        out.push(text);
    }
    out
}

fn small_config() -> DedupConfig {
    DedupConfig {
        shingle_size: 3,
        min_passage_tokens: 4,
        passage_threshold: 0.6,
        max_shingle_docs: 4,
        stub_max_tokens: 2,
        mostly_duplicate: 0.7,
        doc_jaccard: 0.7,
        doc_containment: 0.8,
        bands: 8,
        rows: 2,
        explain_reuse: true,
        reuse_min_tokens: 5,
        ..DedupConfig::default()
    }
}

fn run(config: &DedupConfig, texts: &[String]) -> (Vec<DocFacts>, Vec<DocDecision>) {
    let scanner = Scanner::new(config);
    let facts: Vec<DocFacts> = texts.iter().map(|t| scanner.scan(t, &blocks(t))).collect();
    let ids: Vec<DocId> = (0..texts.len()).map(|i| DocId::new(0, i as u64)).collect();
    let mut decisions = vec![DocDecision::default(); texts.len()];
    resolve(config, &ids, &facts, &mut decisions);
    (facts, decisions)
}

/// Brute-force passage containment: for every passage, the score and the best earlier block.
/// Documents dropped as near-copies (`dropped`) are not judged; they count towards document
/// frequency like any other.
fn passage_oracle(
    config: &DedupConfig,
    facts: &[DocFacts],
    dropped: &[bool],
) -> BTreeMap<(usize, usize), (f64, (usize, usize))> {
    let sets: Vec<BTreeSet<u64>> = facts
        .iter()
        .map(|f| f.shingles.iter().copied().collect())
        .collect();
    let df = |h: u64| sets.iter().filter(|s| s.contains(&h)).count();
    let mut out = BTreeMap::new();
    for (d, f) in facts.iter().enumerate() {
        if dropped[d] {
            continue;
        }
        for (bi, b) in f.blocks.iter().enumerate() {
            if (b.tokens as usize) < config.min_passage_tokens {
                continue;
            }
            let counted: BTreeSet<u64> = f
                .block_shingles(b)
                .iter()
                .copied()
                .filter(|&h| df(h) <= config.max_shingle_docs)
                .collect();
            let earlier: BTreeSet<u64> = counted
                .iter()
                .copied()
                .filter(|h| sets[..d].iter().any(|s| s.contains(h)))
                .collect();
            let distinct: BTreeSet<u64> = f.block_shingles(b).iter().copied().collect();
            if earlier.len() < passages::MIN_SHARED_SHINGLES || 2 * counted.len() < distinct.len() {
                continue;
            }
            let score = earlier.len() as f64 / counted.len() as f64;
            if score < config.passage_threshold {
                continue;
            }
            let mut best = (0, (0, 0));
            for (e, fe) in facts[..d].iter().enumerate() {
                for (be, blk) in fe.blocks.iter().enumerate() {
                    let s: BTreeSet<u64> = fe.block_shingles(blk).iter().copied().collect();
                    let n = earlier.intersection(&s).count();
                    if n > best.0 {
                        best = (n, (e, be));
                    }
                }
            }
            out.insert((d, bi), (score, best.1));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn passage_removals_are_exactly_what_the_oracle_supports(seed in any::<u64>(), docs in 2usize..9) {
        let config = small_config();
        // Half the cases with whole-document copies, which are dropped before passages.
        let texts = corpus_with_copies(seed, docs, seed % 2 == 0);
        let (facts, decisions) = run(&config, &texts);
        let dropped: Vec<bool> = decisions
            .iter()
            .map(|d| matches!(d.drop, Some(DropReason::NearDupDoc { .. })))
            .collect();
        let oracle = passage_oracle(&config, &facts, &dropped);
        let mut got = BTreeMap::new();
        for (d, dec) in decisions.iter().enumerate() {
            for r in &dec.removals {
                let bi = facts[d].blocks.iter().position(|b| b.start == r.start && b.end == r.end);
                let bi = bi.expect("a removal covers one block");
                match &r.reason {
                    Reason::NearDupPassage(src) => {
                        let e = src.doc.record_index() as usize;
                        prop_assert!(e < d, "the source is earlier");
                        let be = facts[e].blocks.iter().position(|b| b.start == src.start && b.end == src.end);
                        got.insert((d, bi), (src.score, (e, be.expect("source is a block"))));
                    }
                    Reason::DupStub => {
                        let b = &facts[d].blocks[bi];
                        prop_assert!((b.tokens as usize) <= config.stub_max_tokens);
                        let removed = |j: usize| oracle.contains_key(&(d, j));
                        let before = (0..bi).rev().find(|&j| !stub_like(&config, &facts[d].blocks[j]) || removed(j));
                        let after = (bi + 1..facts[d].blocks.len()).find(|&j| !stub_like(&config, &facts[d].blocks[j]) || removed(j));
                        prop_assert!(before.is_some_and(removed) && after.is_some_and(removed), "a stub lies between removed passages");
                    }
                    other => prop_assert!(false, "unexpected reason {other:?}"),
                }
            }
        }
        prop_assert_eq!(&got, &oracle);

        // Reuse spans: exactly the maximal runs of earlier, non-common shingles of at least
        // `reuse-min-tokens` tokens in passages that stay.
        let sets: Vec<BTreeSet<u64>> = facts.iter().map(|f| f.shingles.iter().copied().collect()).collect();
        let df = |h: u64| sets.iter().filter(|s| s.contains(&h)).count();
        let mut expected = BTreeSet::new();
        for (d, f) in facts.iter().enumerate() {
            if dropped[d] {
                continue;
            }
            for (bi, b) in f.blocks.iter().enumerate() {
                if (b.tokens as usize) < config.min_passage_tokens || oracle.contains_key(&(d, bi)) {
                    continue;
                }
                let marks: Vec<bool> = f.block_shingles(b).iter().map(|&h| {
                    df(h) <= config.max_shingle_docs && sets[..d].iter().any(|s| s.contains(&h))
                }).collect();
                let w = config.shingle_size.min(b.tokens as usize);
                let mut i = 0;
                while i < marks.len() {
                    if !marks[i] { i += 1; continue; }
                    let mut j = i;
                    while j + 1 < marks.len() && marks[j + 1] { j += 1; }
                    if j - i + w >= config.reuse_min_tokens {
                        let spans = &f.shingle_spans[b.first as usize..];
                        expected.insert((d, spans[i].start as usize, spans[j].end as usize));
                    }
                    i = j + 1;
                }
            }
        }
        let mut annotated = BTreeSet::new();
        for (d, dec) in decisions.iter().enumerate() {
            for a in &dec.annotations {
                let Reason::Reuse(src) = &a.reason else { panic!("annotations are reuse") };
                let e = src.doc.record_index() as usize;
                prop_assert!(e < d);
                prop_assert!(src.score > 0.0 && src.score <= 1.0);
                // The source span is made of whole shingles of the source.
                prop_assert!(facts[e].shingle_spans.iter().any(|s| s.start as usize == src.start));
                prop_assert!(facts[e].shingle_spans.iter().any(|s| s.end as usize == src.end));
                annotated.insert((d, a.start, a.end));
            }
        }
        prop_assert_eq!(annotated, expected);
    }

    #[test]
    fn dropped_documents_are_supported_by_exact_similarity(seed in any::<u64>(), docs in 2usize..12) {
        let mut config = small_config();
        config.passages = false;
        let texts = corpus_with_copies(seed, docs, true);
        let (facts, decisions) = run(&config, &texts);
        let sets: Vec<Vec<u32>> = facts.iter().map(DocFacts::fingerprint_set).collect();
        // Oracle: components of the all-pairs duplicate graph.
        let mut uf = union_find::UnionFind::new(facts.len());
        for b in 0..facts.len() {
            for a in 0..b {
                if is_duplicate(&config, &sets[a], &sets[b]) {
                    uf.union(a as u32, b as u32);
                }
            }
        }
        for (d, dec) in decisions.iter().enumerate() {
            if let Some(DropReason::NearDupDoc { source, score }) = &dec.drop {
                let s = source.record_index() as u32;
                prop_assert!((s as usize) < d);
                prop_assert_eq!(uf.find(s), uf.find(d as u32), "joined by verified pairs");
                let expected = intersection(&sets[s as usize], &sets[d]) as f64 / sets[d].len() as f64;
                prop_assert!((score - expected).abs() < 1e-12);
            } else {
                prop_assert!(dec.drop.is_none());
            }
        }
        // Candidate recall at J >= 0.8 against all pairs: misses stay within what the banding
        // curve allows (expected misses + 3 standard deviations, + 1 for small counts).
        let pairs = candidates(&facts, config.bands, config.rows);
        let (mut misses, mut expected, mut variance) = (0usize, 0.0f64, 0.0f64);
        for b in 0..facts.len() {
            for a in 0..b {
                let (sa, sb) = (&sets[a], &sets[b]);
                if sa.is_empty() || sb.is_empty() {
                    continue;
                }
                let inter = intersection(sa, sb) as f64;
                let j = inter / ((sa.len() + sb.len()) as f64 - inter);
                if j >= 0.8 {
                    let p = candidate_probability(j, config.bands, config.rows);
                    expected += 1.0 - p;
                    variance += p * (1.0 - p);
                    misses += pairs.binary_search(&(a as u32, b as u32)).is_err() as usize;
                }
            }
        }
        prop_assert!(misses as f64 <= expected + 3.0 * variance.sqrt() + 1.0);
        // Exact copies (same non-empty set) always share every band, so only the first stays.
        for b in 0..facts.len() {
            if (0..b).any(|a| !sets[a].is_empty() && sets[a] == sets[b]) {
                prop_assert!(decisions[b].drop.is_some(), "exact copy {} kept", b);
            }
        }
    }

    #[test]
    fn mostly_duplicate_drops_name_an_earlier_source(seed in any::<u64>(), docs in 2usize..9) {
        let config = small_config();
        let texts = corpus(seed, docs);
        let (facts, decisions) = run(&config, &texts);
        for (d, dec) in decisions.iter().enumerate() {
            if let Some(DropReason::MostlyDuplicate { source, score }) = &dec.drop {
                prop_assert!((source.record_index() as usize) < d);
                let gone: u64 = dec.removals.iter().map(|r| {
                    facts[d].blocks.iter().find(|b| b.start == r.start).map_or(0, |b| b.tokens as u64)
                }).sum();
                let share = gone as f64 / facts[d].total_tokens() as f64;
                prop_assert!((share - score).abs() < 1e-12);
                prop_assert!(*score >= config.mostly_duplicate);
            }
        }
    }
}

fn stub_like(config: &DedupConfig, b: &BlockFacts) -> bool {
    (b.tokens as usize) <= config.stub_max_tokens && (b.tokens as usize) < config.min_passage_tokens
}

/// Pairs at Jaccard ≥ 0.8 become candidates at least as often as the banding curve promises
/// (less three standard deviations of the binomial count).
#[test]
fn candidate_recall_meets_the_lsh_curve() {
    let (bands, rows) = (4, 4);
    let config = DedupConfig {
        bands,
        rows,
        passages: false,
        ..DedupConfig::default()
    };
    let minhash = minhash::MinHasher::new(bands * rows, config.minhash_seed);
    let mut rng = Rng(7);
    let mut facts = Vec::new();
    let mut promised = Vec::new();
    for _ in 0..400 {
        let base: Vec<u64> = (0..60).map(|_| rng.next()).collect();
        let mut copy = base.clone();
        for h in copy.iter_mut().take(rng.below(7)) {
            *h = rng.next();
        }
        let (a, b) = (fingerprint_set_of(&base), fingerprint_set_of(&copy));
        let inter = intersection(&a, &b) as f64;
        let j = inter / ((a.len() + b.len()) as f64 - inter);
        assert!(j >= 0.8);
        promised.push(candidate_probability(j, bands, rows));
        for s in [base, copy] {
            facts.push(DocFacts {
                signature: minhash.signature(&s),
                shingles: s,
                ..DocFacts::default()
            });
        }
    }
    let pairs = candidates(&facts, bands, rows);
    let found = (0..400u32)
        .filter(|i| pairs.binary_search(&(2 * i, 2 * i + 1)).is_ok())
        .count() as f64;
    let expected: f64 = promised.iter().sum();
    let sd: f64 = promised.iter().map(|p| p * (1.0 - p)).sum::<f64>().sqrt();
    assert!(
        found >= expected - 3.0 * sd,
        "{found} candidates of 400, the curve promises {expected:.1} ± {sd:.1}"
    );
    // Unrelated pairs (J = 0) are not candidates.
    assert!(pairs.iter().all(|&(a, b)| a / 2 == b / 2));
}

fn fingerprint_set_of(v: &[u64]) -> Vec<u32> {
    let mut s: Vec<u32> = v.iter().map(|&h| h as u32).collect();
    s.sort_unstable();
    s.dedup();
    s
}

/// A block inside a boilerplate span is marked and left out of the signature's set, also when
/// smaller spans start inside the wide one; a block only partly covered stays in.
#[test]
fn boilerplate_blocks_are_left_out_of_document_similarity() {
    let config = DedupConfig::default();
    let text = "one two three four five six\nseven eight nine ten eleven twelve\nthirteen fourteen fifteen sixteen seventeen\n";
    let blocks = crate::text::blocks(text);
    let second = text.find("seven").unwrap();
    let third = text.find("thirteen").unwrap();
    // A wide span over the first two lines, with a small one inside it.
    let spans = [(0, third), (second, second + 5)];
    let f = Scanner::new(&config).scan_excluding(text, &blocks, &spans);
    let marks: Vec<bool> = f.blocks.iter().map(|b| b.boilerplate).collect();
    assert_eq!(marks, [true, true, false]);
    let third_block = &f.blocks[2];
    let mut content = vec![7];
    f.content_shingles_into(&mut content);
    assert_eq!(content, f.block_shingles(third_block).to_vec());
    assert_eq!(
        f.fingerprint_set(),
        fingerprint_set_of(f.block_shingles(third_block))
    );
    let plain = Scanner::new(&config).scan(text, &blocks);
    assert!(plain.blocks.iter().all(|b| !b.boilerplate));
    assert_ne!(plain.signature, f.signature);
    // Partly covered: stays.
    let partial = Scanner::new(&config).scan_excluding(text, &blocks, &[(0, 5)]);
    assert!(partial.blocks.iter().all(|b| !b.boilerplate));
}

/// Without the passage step the facts keep only the content fingerprints (no blocks, no shingle
/// list, no signature on disk), and they verify documents exactly as a passage run's facts do,
/// also for a document scanned after another on the same thread (whose buffer it reuses).
#[test]
fn documents_only_facts_verify_like_full_facts() {
    let text = "Menu Home News Sport Weather\none two three four five six seven\neight nine ten eleven twelve thirteen fourteen\n";
    let other = "a wholly different page with words of its own and more of them\n";
    let blocks = crate::text::blocks(text);
    let spans = [(0, text.find("one").unwrap())];
    let full = Scanner::new(&DedupConfig::default()).scan_excluding(text, &blocks, &spans);
    let docs_only = DedupConfig {
        passages: false,
        ..DedupConfig::default()
    };
    let scanner = Scanner::new(&docs_only);
    let _before = scanner.scan(other, &crate::text::blocks(other));
    let slim = scanner.scan_excluding(text, &blocks, &spans);
    assert!(slim.blocks.is_empty() && slim.shingles.is_empty());
    assert!(!slim.fingerprint_set().is_empty());
    assert_eq!(slim.fingerprint_set(), full.fingerprint_set());
    assert_eq!(slim.signature, full.signature);
    let back: DocFacts = bincode::deserialize(&bincode::serialize(&slim).unwrap()).unwrap();
    assert_eq!(back.fingerprint_set(), slim.fingerprint_set());
    assert!(
        back.signature.is_empty(),
        "the signature stays out of the facts file"
    );
    // With passages, the facts file keeps every block's fingerprints, not the shingles.
    let full_back: DocFacts = bincode::deserialize(&bincode::serialize(&full).unwrap()).unwrap();
    assert!(full_back.shingles.is_empty() && !full.shingles.is_empty());
    assert_eq!(full_back.blocks, full.blocks);
    for b in &full.blocks {
        let low: Vec<u32> = full.block_shingles(b).iter().map(|&h| h as u32).collect();
        assert_eq!(full_back.block_fingerprints(b), low.as_slice());
    }
    assert_eq!(full_back.fingerprint_set(), full.fingerprint_set());
}

proptest! {
    /// The scan's count of code points, made from the blocks' offsets and the text after the
    /// last block, is the text's, with or without near-duplicate detection.
    #[test]
    fn the_scan_counts_the_code_points_of_the_whole_text(
        text in "[a-zé“” .\n\t]{0,80}",
        enabled in any::<bool>(),
    ) {
        let config = if enabled {
            DedupConfig::default()
        } else {
            DedupConfig { passages: false, doc_dedup: false, ..DedupConfig::default() }
        };
        let facts = Scanner::new(&config).scan_excluding(&text, &blocks(&text), &[]);
        prop_assert_eq!(facts.len_code_points, text.chars().count());
    }
}
