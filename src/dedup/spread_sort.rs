//! A sort for keys spread evenly over their range (hashes, and the positions of a corpus), used
//! by resolve on millions of shingle occurrences at a time.
//!
//! Two counting passes on the top bits of each key's offset in the range put the items in
//! buckets of a handful, in key order; insertion sorts finish them. Two passes over the items
//! instead of the `log n` levels of a comparison sort, in place but for a buffer of one bucket
//! of the first pass, and exactly the order `sort_unstable` gives.

/// Items per bucket of the first pass: its buckets are split again in the cache (about 100 KB
/// of occurrences). Fewer buckets also keep the first pass's writes in few pages; a pass to
/// tens of thousands of buckets misses the cache and the TLB on nearly every write.
const FIRST_RUN: usize = 4096;
/// At most 2^12 buckets in the first pass.
const MAX_FIRST_BITS: u32 = 12;
/// Below this, a comparison sort is as fast.
const SMALL: usize = 2048;
/// Buckets up to this long are sorted in place by insertion: a call to `sort_unstable` costs more
/// than the few moves they need.
const SHORT_RUN: usize = 16;

/// Sorts `items` into the order `sort_unstable` gives. `key` must agree with that order: `a < b`
/// implies `key(a) <= key(b)`.
///
/// Two counting passes, most significant bits first. The first moves the items, in place, into
/// buckets of a few thousand by the top bits of their key's offset in the range (American flag
/// sort: each item is swapped straight into its bucket). The second splits each bucket, in the
/// cache, through a buffer into about as many buckets as it has items by the next bits; the few
/// that get more than one are finished by insertion.
pub fn sort_by_spread_key<T: Ord + Copy>(items: &mut [T], key: impl Fn(&T) -> u64) {
    let n = items.len();
    if n < SMALL {
        items.sort_unstable();
        return;
    }
    let (min, max) = items.iter().fold((u64::MAX, 0), |(lo, hi), t| {
        (lo.min(key(t)), hi.max(key(t)))
    });
    let span_bits = 64 - (max - min).leading_zeros();
    let first_bits = (n / FIRST_RUN).max(2).ilog2().min(MAX_FIRST_BITS);
    let first_shift = span_bits.saturating_sub(first_bits);
    let offset = |t: &T| key(t) - min;

    let starts = place_in_buckets(
        items,
        |t| (offset(t) >> first_shift) as usize,
        1 << first_bits,
    );
    let (mut buffer, mut ends) = (Vec::new(), Vec::new());
    for w in starts.windows(2) {
        let run = &mut items[w[0]..w[1]];
        if run.len() <= SHORT_RUN || run.len() > u32::MAX as usize {
            finish(run);
            continue;
        }
        let bits = run
            .len()
            .next_power_of_two()
            .trailing_zeros()
            .min(first_shift);
        let shift = first_shift - bits;
        let mask = (1u64 << bits) - 1;
        buffer.clear();
        buffer.extend_from_slice(run);
        scatter_run(
            &buffer,
            run,
            |t| ((offset(t) >> shift) & mask) as usize,
            1 << bits,
            &mut ends,
        );
        let mut start = 0;
        for &end in &ends {
            let end = end as usize;
            if end - start > 1 {
                finish(&mut run[start..end]);
            }
            start = end;
        }
    }
}

/// Places `from` (fewer than 2^32 items) into `to` by bucket (`bucket(t) < buckets`), leaving
/// in `ends` where each bucket ends. Counts of four bytes, turned into places and counted up in
/// place: the second pass's buckets are about as many as its items, so these arrays are as
/// large as the items' keys, and every byte of them costs.
fn scatter_run<T: Copy>(
    from: &[T],
    to: &mut [T],
    bucket: impl Fn(&T) -> usize,
    buckets: usize,
    ends: &mut Vec<u32>,
) {
    ends.clear();
    ends.resize(buckets, 0);
    for t in from {
        ends[bucket(t)] += 1;
    }
    let mut sum = 0;
    for c in ends.iter_mut() {
        (*c, sum) = (sum, sum + *c);
    }
    for t in from {
        let at = &mut ends[bucket(t)];
        to[*at as usize] = *t;
        *at += 1;
    }
}

/// Where each bucket starts (and the end), from the bucket of every item.
fn bucket_starts<T>(
    items: &[T],
    bucket: impl Fn(&T) -> usize,
    buckets: usize,
    mut starts: Vec<usize>,
) -> Vec<usize> {
    starts.clear();
    starts.resize(buckets + 1, 0);
    for t in items {
        starts[bucket(t) + 1] += 1;
    }
    for b in 0..buckets {
        starts[b + 1] += starts[b];
    }
    starts
}

/// Moves `items` into bucket order in place; returns where each bucket starts, and the end.
fn place_in_buckets<T: Copy>(
    items: &mut [T],
    bucket: impl Fn(&T) -> usize,
    buckets: usize,
) -> Vec<usize> {
    let starts = bucket_starts(items, &bucket, buckets, Vec::new());
    // next[b]: the first slot of bucket b not yet holding one of its own items.
    let mut next = starts.clone();
    for b in 0..buckets {
        while next[b] < starts[b + 1] {
            // Carry the item found here to its bucket, and the one displaced there on, until
            // one that belongs here comes back.
            let mut carried = items[next[b]];
            let mut home = bucket(&carried);
            while home != b {
                std::mem::swap(&mut carried, &mut items[next[home]]);
                next[home] += 1;
                home = bucket(&carried);
            }
            items[next[b]] = carried;
            next[b] += 1;
        }
    }
    starts
}

/// Sorts one bucket.
fn finish<T: Ord + Copy>(run: &mut [T]) {
    if run.len() > SHORT_RUN {
        run.sort_unstable();
        return;
    }
    for i in 1..run.len() {
        let t = run[i];
        let mut j = i;
        while j > 0 && t < run[j - 1] {
            run[j] = run[j - 1];
            j -= 1;
        }
        run[j] = t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Occ = (u64, u32, u32, u32);

    fn check(items: Vec<Occ>) {
        let mut expected = items.clone();
        expected.sort_unstable();
        let mut got = items;
        sort_by_spread_key(&mut got, |o| o.0);
        assert_eq!(got, expected);
    }

    proptest! {
        /// Hashes over the whole range, many repeated (shared shingles), in lists long enough to
        /// take the bucket path.
        #[test]
        fn same_order_as_sort_unstable(
            hashes in prop::collection::vec(any::<u64>(), 1..400),
            picks in prop::collection::vec((any::<prop::sample::Index>(), 0u32..50, 0u32..9), 0..6000),
        ) {
            let items = picks
                .iter()
                .map(|(i, d, p)| (hashes[i.index(hashes.len())], *d, *p, p / 3))
                .collect();
            check(items);
        }

        /// Keys in a narrow range (a partition's hashes, a shard's documents), and a few far off.
        #[test]
        fn narrow_and_skewed_ranges(
            base in any::<u64>(),
            offsets in prop::collection::vec(0u64..5000, 2048..5000),
            outliers in prop::collection::vec(any::<u64>(), 0..3),
        ) {
            let mut items: Vec<Occ> = offsets
                .iter()
                .enumerate()
                .map(|(i, &o)| (base.saturating_add(o), (i % 7) as u32, i as u32, 0))
                .collect();
            items.extend(outliers.iter().map(|&h| (h, 0, 0, 0)));
            check(items);
        }
    }

    /// A partition's worth: many buckets in both passes, a third of the hashes shared.
    #[test]
    fn a_partition_of_occurrences() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let items = (0..200_000u32)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let h = state / 12 + (1 << 60);
                (
                    if i % 3 == 0 { h & !0xFFFF } else { h },
                    i / 300,
                    i % 300,
                    0,
                )
            })
            .collect();
        check(items);
    }

    #[test]
    fn one_key_for_all_and_the_extremes() {
        check(vec![(7, 3, 1, 0); 3000]);
        let mut items: Vec<Occ> = (0..3000u32).map(|i| (u64::MAX, 3000 - i, i, 0)).collect();
        items.push((0, 0, 0, 0));
        check(items);
    }
}
