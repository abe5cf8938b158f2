//! The interpreter: an [`Engine`] holds definitions — the built-in ones and any loaded at run
//! time from a file, a folder or a string — each validated and compiled once into a
//! [`Provider`] plan, and fetches task statuses through the shared runtime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::http::request::{Credentials, Inputs};
use crate::http::transport::{Request, Transport};
use crate::model::Provider;
use crate::runtime::{Error, ErrorKind};
use crate::task::UploadTask;
use crate::validate::{self, FileReport};
use crate::watch::{Endpoint, Target};

/// Where a definition came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Compiled into this binary from `providers/`.
    BuiltIn,
    /// Loaded at run time from this file.
    File(PathBuf),
    /// Loaded at run time from a string with this name.
    Text(String),
}

/// A definition the engine holds.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The compiled definition (the plan both engines follow).
    #[doc(hidden)]
    pub provider: Arc<Provider>,
    /// Where it came from.
    pub source: Source,
}

impl Loaded {
    /// The provider id (the definition's `id`).
    pub fn id(&self) -> &str {
        &self.provider.id
    }

    /// The provider's display name.
    pub fn name(&self) -> &str {
        &self.provider.name
    }

    /// The environment variables its credentials are read from, in the order the definition
    /// names them.
    pub fn credential_names(&self) -> Vec<&str> {
        crate::http::request::auth_env_names(&self.provider.auth)
    }

    /// The inputs a status request takes besides the task id, and whether each is required.
    pub fn inputs(&self) -> impl Iterator<Item = (&str, bool)> {
        self.provider
            .inputs
            .iter()
            .map(|input| (input.name.as_str(), input.required))
    }
}

/// Why definitions could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The same diagnostics `unitask validate` prints (and `Display` renders, without colour).
    #[error("{}", render_reports(.0))]
    Invalid(Vec<FileReport>),
    /// A file or folder could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A built-in definition did not compile (build.rs checks them, so this means a broken build).
    #[error("a built-in definition did not compile:\n{0}")]
    BuiltIn(String),
}

/// Every report as `unitask validate` prints it, without colour.
fn render_reports(reports: &[FileReport]) -> String {
    let mut out: String = reports
        .iter()
        .map(|report| report.render_human(false))
        .collect();
    let count = reports.len();
    out.push_str(&format!(
        "{count} invalid definition{}",
        if count == 1 { "" } else { "s" }
    ));
    out
}

/// Definitions by id, each compiled once, and the transport their requests go through. A
/// definition loaded later replaces one with the same id. Cloning an engine is cheap: the
/// compiled definitions are shared.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    providers: BTreeMap<String, Loaded>,
    /// `None`: [`Transport::shared`].
    transport: Option<Transport>,
}

impl Engine {
    /// An engine with no definitions.
    pub fn empty() -> Engine {
        Engine::default()
    }

    /// An engine with the built-in definitions: the plans the generated modules compiled, so a
    /// built-in is compiled once whichever engine answers.
    pub fn builtin() -> Result<Engine, LoadError> {
        let mut engine = Engine::empty();
        let mut failed = Vec::new();
        for id in crate::providers::GENERATED {
            match crate::providers::definition(id) {
                Some(Ok(provider)) => engine.insert(Arc::clone(provider), Source::BuiltIn),
                Some(Err(error)) => failed.push(error.message),
                None => failed.push(format!("no generated module for `{id}`")),
            }
        }
        if failed.is_empty() {
            Ok(engine)
        } else {
            Err(LoadError::BuiltIn(failed.join("\n")))
        }
    }

    /// The same engine sending its requests through `transport` (instead of the process's
    /// [`Transport::shared`]).
    pub fn with_transport(mut self, transport: Transport) -> Engine {
        self.transport = Some(transport);
        self
    }

    fn insert(&mut self, provider: Arc<Provider>, source: Source) {
        self.providers
            .insert(provider.id.clone(), Loaded { provider, source });
    }

    /// Loads one definition file (its id must equal its file stem).
    pub fn load_file(&mut self, path: &Path) -> Result<(), LoadError> {
        self.load_paths(&[path.to_path_buf()])
    }

    /// Loads every `*.yaml` in a folder.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), LoadError> {
        self.load_paths(&[dir.to_path_buf()])
    }

    /// Loads files and folders; nothing is added unless all of them are valid.
    pub fn load_paths(&mut self, paths: &[PathBuf]) -> Result<(), LoadError> {
        let mut checked = validate::check_paths(paths)?;
        let known: Vec<&Provider> = self.providers.values().map(|l| &*l.provider).collect();
        validate::check_links(&mut checked, &known);
        let mut invalid = Vec::new();
        let mut valid = Vec::new();
        for c in checked {
            match c.result {
                Ok(provider) => valid.push((Arc::new(provider), Source::File(c.path))),
                Err(report) => invalid.push(report),
            }
        }
        if !invalid.is_empty() {
            return Err(LoadError::Invalid(invalid));
        }
        for (provider, source) in valid {
            self.insert(provider, source);
        }
        Ok(())
    }

    /// Loads a definition from text; `name` is how diagnostics show it.
    pub fn load_str(&mut self, name: &str, text: &str) -> Result<(), LoadError> {
        let provider =
            validate::check_source(name, None, text).map_err(|r| LoadError::Invalid(vec![r]))?;
        let known: Vec<&Provider> = self.providers.values().map(|l| &*l.provider).collect();
        let problems = validate::link_problems(&provider, &known);
        if !problems.is_empty() {
            return Err(LoadError::Invalid(vec![validate::FileReport {
                path: name.to_owned(),
                source: text.to_owned(),
                diagnostics: problems,
            }]));
        }
        self.insert(Arc::new(provider), Source::Text(name.to_owned()));
        Ok(())
    }

    /// Keeps `limits` for provider `id` instead of the rate limits its definition declares:
    /// the plan a deployment is on (a higher tier allows more; none keeps only what answers'
    /// `RateLimit` headers say). Clients, endpoints and sandboxes made from this engine
    /// afterwards keep them; a built-in provider keeps its generated client.
    pub fn set_rate_limits(
        &mut self,
        id: &str,
        limits: Vec<crate::watch::RateLimit>,
    ) -> Result<(), Error> {
        let Some(loaded) = self.providers.get_mut(id) else {
            return Err(self.unknown(id));
        };
        let mut provider = (*loaded.provider).clone();
        provider.rate_limits = limits;
        loaded.provider = Arc::new(provider);
        Ok(())
    }

    /// The error for an id no definition has, naming those it has.
    fn unknown(&self, id: &str) -> Error {
        let known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
        Error::local(
            ErrorKind::Definition,
            format!("no provider `{id}` (known: {})", known.join(", ")),
        )
    }

    /// The definition with this id.
    pub fn get(&self, id: &str) -> Option<&Loaded> {
        self.providers.get(id)
    }

    /// Every definition, sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = &Loaded> {
        self.providers.values()
    }

    /// A client for provider `id`, with the credentials its definition names read from the
    /// environment (replace them with [`ProviderClient::credentials`]). An unknown id is an
    /// error of kind [`ErrorKind::Definition`] naming the known ones.
    pub fn provider(&self, id: &str) -> Result<ProviderClient, Error> {
        let Some(loaded) = self.get(id) else {
            return Err(self.unknown(id));
        };
        let transport = match &self.transport {
            Some(transport) => transport.clone(),
            None => Transport::shared()?,
        };
        Ok(ProviderClient {
            credentials: Credentials::from_env(&loaded.provider.auth),
            provider: Arc::clone(&loaded.provider),
            transport,
            base_url: None,
            inputs: Inputs::new(),
        })
    }
}

/// A client for one provider the [`Engine`] holds, as a generated module's `Client` is for its
/// own: made by [`Engine::provider`], configured by value, cheap to clone and `'static`, so a
/// service keeps one per provider (or per tenant's credentials).
#[derive(Debug, Clone)]
pub struct ProviderClient {
    provider: Arc<Provider>,
    transport: Transport,
    credentials: Credentials,
    base_url: Option<url::Url>,
    inputs: Inputs,
}

impl ProviderClient {
    /// The provider id.
    pub fn id(&self) -> &str {
        &self.provider.id
    }

    /// Sends requests through `transport` instead of the engine's.
    pub fn transport(mut self, transport: Transport) -> ProviderClient {
        self.transport = transport;
        self
    }

    /// These credentials instead of the environment's.
    pub fn credentials(mut self, credentials: Credentials) -> ProviderClient {
        self.credentials = credentials;
        self
    }

    /// Sends requests here instead of the definition's base URL (a sandbox, a regional host).
    pub fn base_url(mut self, base_url: url::Url) -> ProviderClient {
        self.base_url = Some(base_url);
        self
    }

    /// An input every status request of this client takes (a shop, a bucket, a region).
    pub fn input(mut self, name: impl Into<String>, value: impl Into<String>) -> ProviderClient {
        self.inputs.set(name, value);
        self
    }

    /// Fetches one task's status with this client's inputs.
    pub async fn status(&self, task_id: &str) -> Result<UploadTask, Error> {
        self.status_with(task_id, &self.inputs).await
    }

    /// Fetches one task's status with these inputs instead of the client's. Credentials under
    /// a name the definition does not read are refused (a typo would otherwise surface as a 401).
    pub async fn status_with(&self, task_id: &str, inputs: &Inputs) -> Result<UploadTask, Error> {
        crate::http::request::check_credential_names(&self.provider, &self.credentials)?;
        let request = Request {
            task_id,
            inputs,
            base_url: self.base_url.as_ref(),
            credentials: &self.credentials,
            quota: None,
        };
        self.transport.fetch(&self.provider, request).await
    }

    /// One task of this provider to watch, with this client's inputs.
    pub fn target(&self, task_id: impl Into<String>) -> Target {
        Target {
            provider: self.provider.id.clone(),
            task_id: task_id.into(),
            inputs: self.inputs.clone(),
        }
    }

    /// What a [`Watcher`](crate::watch::Watcher) needs to poll this provider's tasks with this
    /// client's transport, credentials and base URL (the inputs go with each target: see
    /// [`ProviderClient::target`]).
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::interpreted(
            Arc::clone(&self.provider),
            self.transport.clone(),
            self.base_url.clone(),
            self.credentials.clone(),
        )
    }
}
