//! The runtime shared by generated clients and the interpreter: reading values out of bodies,
//! mapping states, turning failures into typed errors. Both engines call these functions, so they
//! cannot drift apart.
//!
//! The request side ([`request`]: inputs, URL, auth) is pure; [`transport`] sends it; the
//! response side ([`normalize`], [`extract`]) is pure too, which is how `validate` runs examples.

mod error;
pub mod extract;
pub mod normalize;
pub mod redact;
pub mod request;
pub mod transport;

pub use error::{Error, ErrorKind, excerpt};
pub use normalize::{Response, normalize};
