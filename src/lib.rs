//! gleaner turns scraped text into a clean corpus: it strips boilerplate, removes passages and
//! documents that repeat earlier ones, and explains every byte it removes.
//!
//! The run is three steps (see `ARCHITECTURE.md`): **scan** each document in parallel into
//! compact facts, **resolve** those facts over the whole corpus deterministically, **apply** the
//! decisions while writing the corpus in order.

pub mod boilerplate;
pub mod cli;
pub mod config;
pub mod corpus;
pub mod decision;
pub mod dedup;
pub mod edit;
pub mod error;
pub mod pipeline;
pub mod report;
pub mod stages;
pub mod text;

pub use config::Config;
pub use error::{Error, Result};
