//! Long lists of fixed-width integers in stage files as one byte string each (little-endian), for
//! `#[serde(with = "crate::stages::words")]`: written with one copy and read with one, where an
//! element at a time costs a call and a bounds check per number (shingle hashes and fingerprints
//! run to millions per partition).

use std::marker::PhantomData;

use bytemuck::Pod;
use serde::de::{Error, Visitor};
use serde::{Deserializer, Serializer};

/// An integer type stored as its little-endian bytes.
pub trait Word: Pod {
    /// The number with its bytes in little-endian order.
    fn native_to_le(self) -> Self;
    /// The number whose little-endian bytes these are.
    fn le_to_native(self) -> Self;
}

macro_rules! word {
    ($($t:ty),*) => {$(
        impl Word for $t {
            fn native_to_le(self) -> Self {
                <$t>::to_le(self)
            }
            fn le_to_native(self) -> Self {
                <$t>::from_le(self)
            }
        }
    )*};
}
word!(u32, u64);

pub fn serialize<T: Word, S: Serializer>(words: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(&le_bytes(words))
}

/// The little-endian bytes of `words`: the words themselves on a little-endian machine.
pub fn le_bytes<T: Word>(words: &[T]) -> std::borrow::Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        std::borrow::Cow::Borrowed(bytemuck::cast_slice(words))
    } else {
        let le: Vec<T> = words.iter().map(|w| w.native_to_le()).collect();
        std::borrow::Cow::Owned(bytemuck::cast_slice(&le).to_vec())
    }
}

pub fn deserialize<'de, T: Word, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    d.deserialize_bytes(WordsVisitor(PhantomData))
}

struct WordsVisitor<T>(PhantomData<T>);

impl<T: Word> Visitor<'_> for WordsVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a byte string of {}-byte words", size_of::<T>())
    }

    fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<T>, E> {
        if bytes.len() % size_of::<T>() != 0 {
            return Err(E::invalid_length(bytes.len(), &self));
        }
        // Copied, not cast in place: the bytes need not be aligned for `T`. One pass into
        // fresh memory, not zeroed first and then copied (these run to megabytes per record).
        let words: Vec<T> = bytes
            .chunks_exact(size_of::<T>())
            .map(|b| bytemuck::pod_read_unaligned::<T>(b).le_to_native())
            .collect();
        Ok(words)
    }

    fn visit_byte_buf<E: Error>(self, bytes: Vec<u8>) -> Result<Vec<T>, E> {
        self.visit_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Lists {
        #[serde(with = "super")]
        wide: Vec<u64>,
        #[serde(with = "super")]
        narrow: Vec<u32>,
        after: u8,
    }

    proptest! {
        /// Lists come back as they went in; the bytes are the length and the little-endian words.
        #[test]
        fn words_round_trip(wide: Vec<u64>, narrow: Vec<u32>, after: u8) {
            let lists = Lists { wide, narrow, after };
            let bytes = bincode::serialize(&lists).unwrap();
            prop_assert_eq!(&bincode::deserialize::<Lists>(&bytes).unwrap(), &lists);
            let mut expected = (8 * lists.wide.len() as u64).to_le_bytes().to_vec();
            expected.extend(lists.wide.iter().flat_map(|w| w.to_le_bytes()));
            prop_assert_eq!(&bytes[..expected.len()], &expected[..]);
        }
    }

    /// 15 bytes are not a list of 8-byte words.
    #[test]
    fn a_torn_word_is_refused() {
        let mut bad = 15u64.to_le_bytes().to_vec();
        bad.extend([0u8; 15]);
        bad.extend(0u64.to_le_bytes());
        bad.push(0);
        let error = bincode::deserialize::<Lists>(&bad).unwrap_err();
        assert!(error.to_string().contains("8-byte words"), "{error}");
    }
}
