//! The runtime shared by generated clients and the interpreter: reading values out of bodies,
//! mapping states, turning failures into typed errors. Both engines call these functions, so they
//! cannot drift apart.
//!
//! Everything here is pure (no I/O): `validate` runs examples through it, and `build.rs`
//! includes it to validate definitions at build time. Sending requests is [`crate::http`]'s job.

mod error;
pub mod extract;
pub mod normalize;
pub mod quota;
pub mod xml;

pub use error::{Cause, Error, ErrorKind, excerpt};
pub use normalize::{Response, normalize};
