//! Unsigned LEB128: seven bits per byte, the high bit set on every byte but the last. Stage
//! files store small steps (positions, document distances) this way, most in one byte.

/// Appends `v`.
pub fn push(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The next number of `bytes`; `None` when they end first or it does not fit 32 bits.
pub fn read<'a>(bytes: &mut impl Iterator<Item = &'a u8>) -> Option<u32> {
    let mut v = 0u32;
    for shift in (0..35).step_by(7) {
        let b = *bytes.next()?;
        let part = (b & 0x7F) as u32;
        // The fifth byte holds the top four bits only.
        if shift == 28 && part > 0x0F {
            return None;
        }
        v |= part << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn numbers_round_trip(values in proptest::collection::vec(any::<u32>(), 0..50)) {
            let mut bytes = Vec::new();
            for &v in &values {
                push(&mut bytes, v);
            }
            let mut it = bytes.iter();
            for &v in &values {
                prop_assert_eq!(read(&mut it), Some(v));
            }
            prop_assert!(it.next().is_none());
        }
    }

    #[test]
    fn small_numbers_take_one_byte_and_bad_input_is_refused() {
        let mut bytes = Vec::new();
        push(&mut bytes, 127);
        assert_eq!(bytes, [127]);
        push(&mut bytes, 128);
        assert_eq!(bytes, [127, 0x80, 1]);
        // Cut short, and too long for 32 bits.
        assert_eq!(read(&mut [0x80u8].iter()), None);
        assert_eq!(read(&mut [0xFFu8, 0xFF, 0xFF, 0xFF, 0x7F].iter()), None);
        assert_eq!(
            read(&mut [0xFFu8, 0xFF, 0xFF, 0xFF, 0x0F].iter()),
            Some(u32::MAX)
        );
    }
}
