//! Making the status request: [`request`] checks inputs and builds the URL (pure), [`auth`]
//! chooses and places the credential, [`sign`] computes signatures and [`oauth`] fetches and
//! caches tokens for each attempt, [`transport`] sends it with one pooled client and retries,
//! [`redact`] keeps secrets out of everything that is returned, printed or logged. Responses go to [`crate::runtime`].

pub mod auth;
pub mod oauth;
pub mod redact;
pub mod request;
pub mod sign;
pub mod transport;
