//! # fraudcore
//!
//! The Rust core of fraudcore: it decides, for every call in the call path, whether the
//! calling-line identity (CLI) is plausible. The data flow follows the modules:
//!
//! raw call ([`call`]) → normalise ([`normalize`]) → classify ([`numplan`], [`overlay`], built on
//! [`trie`]) → look up ([`numberlist`]: [`bloom`] in front of [`exact`], loaded by [`listload`])
//! → evaluate ([`policy`], run by [`engine`]) → [`verdict`].
//!
//! ```
//! use _fraudcore::{engine::Engine, call::Call, metadata::PlanSource, numplan::NumberingPlan, policy::Policy};
//! use std::{path::Path, sync::Arc};
//! # let json = include_str!("testdata/plan_sample.json");
//! let plan = Arc::new(NumberingPlan::compile(&PlanSource::from_json(json)?)?);
//! let policy = Policy::parse(r#"
//!     home_region = "KZ"
//!     [[rules]]
//!     id = "spoofed_home_cli"
//!     when = "ingress == 'international' and roaming != true and caller.is_home"
//!     action = "block"
//! "#, "example.toml", Path::new("."), plan)?;
//! let engine = Engine::new(policy)?;
//! let call = Call { caller: "+77011234567", callee: "87271234567", ..Call::international() };
//! let verdict = engine.score(&call);
//! assert_eq!(verdict.action.as_str(), "block"); // a Kazakh CLI arriving from abroad
//! assert_eq!(verdict.reason_ids().collect::<Vec<_>>(), ["spoofed_home_cli"]);
//! # Ok::<(), _fraudcore::Error>(())
//! ```
//!
//! Nothing here depends on Python; `python/` (behind the `python` feature) is the only
//! binding layer.

pub mod bloom;
pub mod call;
pub mod cdr;
pub mod engine;
pub mod error;
pub mod exact;
pub mod leading;
pub mod listload;
pub mod metadata;
pub mod normalize;
pub mod number;
pub mod numberlist;
pub mod numplan;
pub mod numtype;
pub mod overlay;
pub mod persist;
pub mod policy;
pub mod snapshot;
pub mod tally;
pub mod trie;
pub mod velocity;
pub mod verdict;
pub mod words;
mod xxh3;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
