//! The runtime shared by generated clients and the interpreter: reading values out of bodies,
//! mapping states, turning failures into typed errors. Both engines call these functions, so they
//! cannot drift apart.
//!
//! HTTP transport, auth and retries join this module with the request side (issue 3); what is here
//! now is the pure response side, which `validate` also uses to run every example.

mod error;
pub mod extract;
pub mod normalize;

pub use error::{Error, ErrorKind};
pub use normalize::{Response, normalize};
