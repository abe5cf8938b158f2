//! Making the status request: [`request`] checks inputs and builds the URL and credential (pure),
//! [`transport`] sends it with one pooled client and retries, [`redact`] keeps secrets out of
//! everything that is returned, printed or logged. Responses go to [`crate::runtime`].

pub mod redact;
pub mod request;
pub mod transport;
