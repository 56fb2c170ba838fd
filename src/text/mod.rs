//! Text handling that keeps offsets into the original: blocks, normal forms, code points.

pub mod normalize;
pub mod offsets;
pub mod segment;
pub mod tokens;

pub use normalize::{normalize, normalize_into};
pub use offsets::CodePoints;
pub use segment::{blocks, Block};
