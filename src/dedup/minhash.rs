//! MinHash signatures by fast similarity sketching (Dahlgaard, Knudsen and Thorup, 2017): in
//! round `i`, every shingle is hashed once with the run's seed and the round; the hash picks a
//! bin (a random one in the first `k` rounds, then the next bin of a rotation particular to the
//! shingle, so that every bin is reached) and competes for the bin's minimum with a value in
//! `[i, i + 1)`. Rounds go on until every bin holds a value; later rounds could not lower any.
//! Each bin is then an exact MinHash of the set (two sets agree on it with probability equal to
//! their Jaccard similarity), and agreement concentrates as with `k` independent functions, at the
//! cost of one hash per shingle for a document of more than a few times `k` shingles instead of
//! `k` hashes per shingle.

/// The signature function of a run.
#[derive(Debug, Clone)]
pub struct MinHasher {
    k: usize,
    seed: u64,
}

/// SplitMix64's finalizer: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl MinHasher {
    pub fn new(k: usize, seed: u64) -> Self {
        MinHasher {
            k,
            seed: mix(seed.wrapping_add(0x9E37_79B9_7F4A_7C15)),
        }
    }

    pub fn len(&self) -> usize {
        self.k
    }

    pub fn is_empty(&self) -> bool {
        self.k == 0
    }

    /// The signature of a set of shingles (repeats do not matter); all `u32::MAX` when empty.
    pub fn signature(&self, shingles: &[u64]) -> Vec<u32> {
        let k = self.k;
        if shingles.is_empty() || k == 0 {
            return vec![u32::MAX; k];
        }
        // (round, 32 random bits): a later round never beats an earlier one.
        let mut bins = vec![u64::MAX; k];
        let mut filled = 0;
        let bin_of = |x: u64| (((x >> 32) * k as u64) >> 32) as usize;
        for round in 0..2 * k as u64 {
            let round_seed = self.seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            for &h in shingles {
                let x = mix(h ^ round_seed);
                let bin = if round < k as u64 {
                    bin_of(x)
                } else {
                    (bin_of(mix(h ^ self.seed)) + (round as usize - k)) % k
                };
                let v = (round << 32) | (x & 0xFFFF_FFFF);
                if v < bins[bin] {
                    filled += (bins[bin] == u64::MAX) as usize;
                    bins[bin] = v;
                }
            }
            if filled == k {
                break;
            }
        }
        // The random bits identify the (round, shingle) that won the bin.
        bins.iter().map(|&v| v as u32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sets_equal_signatures_and_agreement_tracks_jaccard() {
        let m = MinHasher::new(256, 42);
        let a: Vec<u64> = (0..200u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let mut rev = a.clone();
        rev.reverse();
        rev.extend_from_slice(&a[..10]);
        assert_eq!(m.signature(&a), m.signature(&rev));
        // b shares 100 of 300 distinct: J = 1/3.
        let b: Vec<u64> = (100..300u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let (sa, sb) = (m.signature(&a), m.signature(&b));
        let agree = sa.iter().zip(&sb).filter(|(x, y)| x == y).count() as f64 / 256.0;
        assert!((agree - 1.0 / 3.0).abs() < 0.12, "agreement {agree}");
        assert!(m.signature(&[]).iter().all(|&v| v == u32::MAX));
        assert_ne!(
            MinHasher::new(4, 1).signature(&a),
            MinHasher::new(4, 2).signature(&a)
        );
    }

    /// A document with fewer shingles than bins still gets a full signature, and copies of it
    /// get the same one.
    #[test]
    fn short_documents_fill_every_bin_the_same_way() {
        let m = MinHasher::new(60, 7);
        let short: Vec<u64> = (0..5u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let sig = m.signature(&short);
        assert!(sig.iter().all(|&v| v != u32::MAX || short.is_empty()));
        assert_eq!(sig, m.signature(&[short.clone(), short].concat()));
    }

    /// Agreement of one-permutation signatures tracks Jaccard across similarities, as k
    /// independent functions would (within a few standard errors).
    #[test]
    fn agreement_tracks_jaccard_at_many_similarities() {
        let m = MinHasher::new(240, 3);
        let key = |i: u64| i.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ 0x5555;
        for shared in [0u64, 50, 150, 300, 500] {
            let a: Vec<u64> = (0..500).map(key).collect();
            let b: Vec<u64> = (500 - shared..1000 - shared).map(key).collect();
            let j = shared as f64 / (1000 - shared) as f64;
            let (sa, sb) = (m.signature(&a), m.signature(&b));
            let agree = sa.iter().zip(&sb).filter(|(x, y)| x == y).count() as f64 / 240.0;
            let se = (j * (1.0 - j) / 240.0).sqrt();
            assert!(
                (agree - j).abs() <= 4.0 * se + 0.02,
                "J {j}: agreement {agree}"
            );
        }
    }
}
