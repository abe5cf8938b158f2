//! Making the status request: [`request`] checks inputs and builds the URL (pure), `auth`
//! chooses and places the credential, `sign` computes signatures and `oauth` fetches and
//! caches tokens for each attempt, [`transport`] sends it with one pooled client and retries,
//! `redact` keeps secrets out of everything that is returned, printed or logged. Responses go
//! to the runtime.
//!
//! The library's interface here is [`Transport`](transport::Transport), its configuration,
//! [`Credentials`](request::Credentials) and [`Inputs`](request::Inputs) (all at the crate
//! root); the rest serves the binary and the generated code.

#[doc(hidden)]
pub mod auth;
#[doc(hidden)]
pub mod oauth;
#[doc(hidden)]
pub mod redact;
pub mod request;
#[doc(hidden)]
pub mod sign;
pub mod transport;
