//! unitask: one typed answer to "what is the status of my upload / import task?", whatever the
//! provider.
//!
//! Each provider is described by one YAML definition (URL template, auth, field mappings,
//! status rules, error mappings, examples). Every answer becomes one [`UploadTask`]: its
//! unified [`State`], the provider's native status, progress, timestamps, files, errors and the
//! raw body; every failure one [`Error`] with an [`ErrorKind`].
//!
//! The examples below run against the sandbox (`unitask::sandbox`, feature `sandbox`), which
//! plays every definition on a loopback port with no credentials; against the real API, leave
//! out the sandbox and the credentials come from the environment variables each definition
//! names.
//!
//! # A built-in provider, typed
//!
//! `build.rs` generates a module per definition in `providers/` ([`providers`]): a `Client`,
//! typed `Params` for its inputs, a `Status` enum of its documented native values, and a
//! `Record` that adds them to the [`UploadTask`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use unitask::providers::hubspot;
//! # let engine = unitask::Engine::builtin()?;
//! # let sandbox = unitask::sandbox::Sandbox::of(&engine, Default::default()).start(0).await?;
//! # let base_url = sandbox.base_url("hubspot");
//!
//! // In production: `hubspot::Client::from_env()?` reads HUBSPOT_ACCESS_TOKEN.
//! let client = hubspot::Client::builder()
//!     .token("any token: the sandbox checks where it is sent")
//!     .base_url(base_url)
//!     .build()?;
//! let record = client.status("import-succeeds-1", &hubspot::Params {}).await?;
//! assert_eq!(record.status, hubspot::Status::Pending);
//! assert_eq!(record.task.state, unitask::State::Pending);
//! # Ok(())
//! # }
//! ```
//!
//! # Any provider, by id
//!
//! An [`Engine`] holds definitions, the built-in ones and any loaded at run time, and makes a
//! [`ProviderClient`] for each.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use unitask::{Credentials, Engine, State};
//! # let engine = Engine::builtin()?;
//! # let sandbox = unitask::sandbox::Sandbox::of(&engine, Default::default()).start(0).await?;
//!
//! let engine = Engine::builtin()?;
//! let hubspot = engine
//!     .provider("hubspot")?
//!     .credentials(Credentials::new().with("HUBSPOT_ACCESS_TOKEN", "a token"))
//! #   .base_url(sandbox.base_url("hubspot"))
//!     ;
//! let task = hubspot.status("import-fails-1").await?;
//! assert_eq!(task.state, State::Pending);
//! # Ok(())
//! # }
//! ```
//!
//! # A definition loaded at run time
//!
//! A definition is checked as `unitask validate` checks it: an invalid one is a
//! [`LoadError`] whose `Display` is the diagnostics, each pointing at its line.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use unitask::{Engine, State};
//! use unitask::sandbox::Sandbox;
//!
//! let definition = r#"
//! id: acme-jobs
//! name: Acme jobs
//! base_url: https://api.acme.example
//! inputs:
//!   job_id: { in: path, role: task_id }
//! request:
//!   path: /v1/jobs/{job_id}
//! auth:
//!   bearer: { env: ACME_TOKEN }
//! response:
//!   state:
//!     native: { string: $.status }
//!     documented: [queued, working, done]
//!     map: { queued: pending, working: running, done: succeeded }
//! examples:
//!   - name: queued
//!     response: { body: { status: queued } }
//!     expect: { state: pending, native_status: queued }
//!   - name: done
//!     response: { body: { status: done } }
//!     expect: { state: succeeded, native_status: done }
//! scenarios:
//!   - name: job-runs
//!     task_id: j-1
//!     steps: [queued, done]
//! "#;
//! let mut engine = Engine::empty();
//! engine.load_str("acme-jobs.yaml", definition)?;
//!
//! let sandbox = Sandbox::of(&engine, Default::default()).start(0).await?;
//! let acme = sandbox.client(&engine, "acme-jobs")?;
//! assert_eq!(acme.status("job-runs-1").await?.state, State::Pending);
//! assert_eq!(acme.status("job-runs-1").await?.state, State::Succeeded);
//!
//! let broken = definition.replace("done: succeeded", "done: finished");
//! let error = engine.load_str("broken.yaml", &broken).unwrap_err();
//! assert!(error.to_string().contains("finished"), "{error}");
//! # Ok(())
//! # }
//! ```
//!
//! # Watching tasks as a stream
//!
//! A [`Watcher`](watch::Watcher) polls tasks until they end, with each definition's polling
//! hints; [`start`](watch::Watcher::start) gives a handle that adds and removes tasks while it
//! runs, and a `Stream` of owned [`Event`](watch::Event)s. The stream drives the polls: a slow
//! consumer (a database write per event) slows polling and loses nothing.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use futures_util::StreamExt as _;
//! use unitask::Engine;
//! use unitask::watch::{Ending, Event, Options, Target, Watcher};
//! # let engine = Engine::builtin()?;
//! # let sandbox = unitask::sandbox::Sandbox::of(&engine, Default::default()).start(0).await?;
//! # let hubspot = sandbox.client(&engine, "hubspot")?;
//!
//! let mut watcher = Watcher::new(Options {
//!     interval: Some(std::time::Duration::from_millis(10)),
//!     ..Options::default()
//! });
//! // Or a generated client's `endpoint()`.
//! watcher.add(hubspot.endpoint());
//! let (handle, mut events) = watcher.start();
//! handle.add(Target::new("hubspot", "import-succeeds-2"))?;
//! handle.add(Target::new("hubspot", "import-fails-2"))?;
//! handle.close(); // no more tasks: the stream ends when these have
//!
//! let mut ended = Vec::new();
//! while let Some(event) = events.next().await {
//!     if let Event::Finished { target, finished, .. } = event {
//!         ended.push((target.task_id.clone(), finished.ending.name()));
//!     }
//! }
//! ended.sort();
//! assert_eq!(ended, [("import-fails-2".into(), "failed"), ("import-succeeds-2".into(), "succeeded")]);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! `cli` (default) builds the `unitask` binary and the three below; `sandbox` the sandbox
//! server (axum); `codegen` the code generator behind `unitask generate`; `schema` the JSON
//! Schema of the format. With `default-features = false` the library fetches, loads and
//! watches with none of them.
//!
//! The pipeline inside (docs/architecture.md tells it whole): `spec` reads a definition into
//! raw types with source spans; `validate` checks it and lowers it into the plan (`model`),
//! reporting every problem at once; `runtime` turns a response into an [`UploadTask`] or an
//! [`Error`], the same way for every provider; [`http`] makes and sends the request. Those
//! modules are public for the binary and the generated code, and hidden: they are not the
//! library's interface and change without notice.

#![warn(missing_docs)]

#[cfg(feature = "codegen")]
#[doc(hidden)]
pub mod codegen;
#[doc(hidden)]
pub mod draft;
pub mod http;
pub mod interp;
#[doc(hidden)]
pub mod model;
pub mod prelude;
#[doc(hidden)]
pub mod runtime;
#[cfg(feature = "sandbox")]
pub mod sandbox;
#[cfg(feature = "serve")]
pub mod serve;
#[doc(hidden)]
pub mod spec;
#[doc(hidden)]
pub mod syntax;
pub mod task;
#[cfg(feature = "store")]
pub mod track;
#[doc(hidden)]
pub mod validate;
pub mod watch;

pub use http::request::{Credentials, Inputs};
pub use http::transport::{RetryPolicy, Transport, TransportConfig};
// Generated code names everything `::unitask::…`, inside this crate too.
extern crate self as unitask;

/// The typed clients generated from `providers/*.yaml` by `build.rs`, one module per provider:
/// its `Client` (and `ClientBuilder`), its `Params`, its documented `Status` values, its
/// `Record`, and the `DEFINITION` it was generated from.
pub mod providers {
    include!(concat!(env!("OUT_DIR"), "/providers.rs"));
}

pub use interp::{Engine, LoadError, ProviderClient};
pub use runtime::{Cause, Error, ErrorKind};
pub use task::{
    File, Next, Progress, ProgressUnit, State, TaskError, UnknownName, UploadTask, Warning,
};
pub use {jiff, serde_json, url};
