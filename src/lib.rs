//! unitask: one typed answer to "what is the status of my upload / import task?", whatever the
//! provider.
//!
//! The pipeline runs one way (docs/architecture.md tells it whole):
//!
//! 1. [`spec`] reads a `providers/<id>.yaml` file into raw types with source spans;
//! 2. [`validate`] checks it and lowers it into the [`model`], reporting every problem at once;
//! 3. the [`runtime`] turns a provider's response into an [`UploadTask`] or a typed [`Error`],
//!    the same way for every provider;
//! 4. the [`interp`] `Engine` holds definitions (built in, or loaded at run time) and fetches
//!    statuses through the runtime's HTTP client.

#[cfg(feature = "codegen")]
pub mod codegen;
pub mod draft;
pub mod http;
pub mod interp;
pub mod model;
pub mod runtime;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod spec;
pub mod syntax;
pub mod task;
pub mod validate;
pub mod watch;

pub use http::request::{Credentials, Inputs};
pub use http::transport::{Client, ClientConfig, RetryPolicy};
// Generated code names everything `::unitask::…`, inside this crate too.
extern crate self as unitask;

/// The typed clients generated from `providers/*.yaml` by `build.rs` (one module per provider).
pub mod providers {
    include!(concat!(env!("OUT_DIR"), "/providers.rs"));
}

pub use interp::Engine;
pub use runtime::{Error, ErrorKind};
pub use task::{File, Progress, State, TaskError, UnknownName, UploadTask, Warning};
pub use {jiff, serde_json, url};
