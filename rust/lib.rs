//! # fraudcore
//!
//! The Rust core of fraudcore: it decides, for every call in the call path, whether the
//! calling-line identity (CLI) is plausible. The data flow follows the modules:
//!
//! raw call ([`call`]) → normalise ([`normalize`]) → classify ([`numplan`], [`overlay`], built on
//! [`trie`]) → look up ([`numberlist`]: [`bloom`] in front of [`exact`], loaded by [`listload`])
//! → evaluate ([`engine`]) → [`verdict`].
//!
//! ```
//! use _fraudcore::{engine::{Engine, EngineConfig}, call::Call, metadata::PlanSource, numplan::NumberingPlan};
//! use std::sync::Arc;
//! # let json = include_str!("testdata/plan_sample.json");
//! let plan = Arc::new(NumberingPlan::compile(&PlanSource::from_json(json)?)?);
//! let engine = Engine::new(plan, EngineConfig::default())?;
//! let call = Call { caller: "+77011234567", callee: "87271234567", ..Call::international() };
//! let verdict = engine.score(&call);
//! assert_eq!(verdict.action.as_str(), "block"); // a Kazakh CLI arriving from abroad
//! # Ok::<(), _fraudcore::Error>(())
//! ```
//!
//! Nothing here depends on Python; `python/` (behind the `python` feature) is the only
//! binding layer.

pub mod bloom;
pub mod call;
pub mod engine;
pub mod error;
pub mod exact;
pub mod listload;
pub mod metadata;
pub mod normalize;
pub mod number;
pub mod numberlist;
pub mod numplan;
pub mod numtype;
pub mod overlay;
pub mod persist;
pub mod trie;
pub mod verdict;
pub mod words;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
