//! MinHash signatures: `k` hash functions of the multiply-add-shift family (Dietzfelbinger),
//! `x ↦ (a·x + b mod 2^64) >> 32` for a 32-bit key `x` (the shingle hash folded to 32 bits) and
//! random 64-bit `a`, `b` drawn from a fixed seed. All lanes are computed at once so that the
//! compiler vectorizes the inner loop; with a 32-bit key, `a·x` needs two 32-bit multiplies.

/// The `k` hash functions of a run.
#[derive(Debug, Clone)]
pub struct MinHasher {
    a: Vec<u64>,
    b: Vec<u64>,
}

/// SplitMix64: expands one seed into the functions' parameters.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl MinHasher {
    pub fn new(k: usize, seed: u64) -> Self {
        let mut state = seed;
        let mut a = Vec::with_capacity(k);
        let mut b = Vec::with_capacity(k);
        for _ in 0..k {
            a.push(splitmix64(&mut state));
            b.push(splitmix64(&mut state));
        }
        MinHasher { a, b }
    }

    pub fn len(&self) -> usize {
        self.a.len()
    }

    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// The signature of a set of shingles (repeats do not matter); all `u32::MAX` when empty.
    pub fn signature(&self, shingles: &[u64]) -> Vec<u32> {
        let k = self.a.len();
        let mut mins = vec![u32::MAX; k];
        for &h in shingles {
            let x = (h ^ (h >> 32)) & 0xFFFF_FFFF;
            for ((m, &a), &b) in mins.iter_mut().zip(&self.a).zip(&self.b) {
                let v = (a.wrapping_mul(x).wrapping_add(b) >> 32) as u32;
                *m = (*m).min(v);
            }
        }
        mins
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
}
