//! LSH banding: the probability that two documents of Jaccard `j` become candidates, and the
//! `gleaner lsh` table that helps choose bands and rows.

use std::fmt::Write;

/// P(candidate) = 1 − (1 − j^rows)^bands: at least one band of `rows` MinHash values agrees.
pub fn candidate_probability(j: f64, bands: usize, rows: usize) -> f64 {
    1.0 - (1.0 - j.powi(rows as i32)).powi(bands as i32)
}

/// The Jaccard at which the probability of becoming a candidate is one half.
pub fn half_point(bands: usize, rows: usize) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if candidate_probability(mid, bands, rows) < 0.5 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// The table printed by `gleaner lsh`: one line per Jaccard from 0.05 to 1 in steps of `step`.
pub fn table(bands: usize, rows: usize, step: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# bands = {bands}, rows = {rows}: {} MinHash values; P(candidate) = 1 - (1 - J^{rows})^{bands}; P = 0.5 at J = {:.3}",
        bands * rows,
        half_point(bands, rows)
    );
    let _ = writeln!(out, "jaccard\tp_candidate");
    let steps = (1.0 / step).round() as usize;
    for i in 1..=steps {
        let j = i as f64 / steps as f64;
        let _ = writeln!(out, "{j:.2}\t{:.4}", candidate_probability(j, bands, rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_is_monotone_with_known_values() {
        assert_eq!(candidate_probability(0.0, 20, 5), 0.0);
        assert_eq!(candidate_probability(1.0, 20, 5), 1.0);
        let p = candidate_probability(0.5, 1, 1);
        assert!((p - 0.5).abs() < 1e-12);
        // One band of two rows: j^2.
        assert!((candidate_probability(0.6, 1, 2) - 0.36).abs() < 1e-12);
        let mut last = 0.0;
        for i in 0..=100 {
            let p = candidate_probability(i as f64 / 100.0, 16, 8);
            assert!(p >= last);
            last = p;
        }
        let h = half_point(16, 8);
        assert!((candidate_probability(h, 16, 8) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn table_has_a_line_per_step() {
        let t = table(4, 2, 0.25);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2 + 4);
        assert!(lines[0].starts_with("# bands = 4, rows = 2"));
        assert_eq!(lines[5], "1.00\t1.0000");
    }
}
