//! The interpreter: an [`Engine`] holds definitions — the built-in ones and any loaded at run
//! time from a file, a folder or a string — each validated and compiled once into a
//! [`Provider`] plan, and fetches task statuses through the shared runtime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::http::request::{Credentials, Inputs};
use crate::http::transport::{Client, FetchStats};
use crate::model::Provider;
use crate::runtime::{Error, ErrorKind};
use crate::task::UploadTask;
use crate::validate::{self, FileReport};

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

/// A loaded definition.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub provider: Provider,
    pub source: Source,
}

/// Why definitions could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The same diagnostics `unitask validate` prints (and `Display` renders, without colour).
    #[error("{}", render_reports(.0))]
    Invalid(Vec<FileReport>),
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

/// Definitions by id. A definition loaded later replaces one with the same id.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    providers: BTreeMap<String, Loaded>,
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
                Some(Ok(provider)) => engine.insert(provider.clone(), Source::BuiltIn),
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

    fn insert(&mut self, provider: Provider, source: Source) {
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
        let known: Vec<&Provider> = self.providers.values().map(|l| &l.provider).collect();
        validate::check_links(&mut checked, &known);
        let mut invalid = Vec::new();
        let mut valid = Vec::new();
        for c in checked {
            match c.result {
                Ok(provider) => valid.push((provider, Source::File(c.path))),
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
        let known: Vec<&Provider> = self.providers.values().map(|l| &l.provider).collect();
        let problems = validate::link_problems(&provider, &known);
        if !problems.is_empty() {
            return Err(LoadError::Invalid(vec![validate::FileReport {
                path: name.to_owned(),
                source: text.to_owned(),
                diagnostics: problems,
            }]));
        }
        self.insert(provider, Source::Text(name.to_owned()));
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Loaded> {
        self.providers.get(id)
    }

    /// Every definition, sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = &Loaded> {
        self.providers.values()
    }

    /// Fetches one task's status with provider `id`.
    pub async fn status(
        &self,
        client: &Client,
        id: &str,
        task_id: &str,
        inputs: &Inputs,
        base_url: Option<&url::Url>,
        credentials: &Credentials,
    ) -> (Result<UploadTask, Error>, FetchStats) {
        match self.get(id) {
            Some(loaded) => {
                client
                    .fetch(&loaded.provider, task_id, inputs, base_url, credentials)
                    .await
            }
            None => {
                let known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
                let error = Error::local(
                    ErrorKind::Definition,
                    format!("no provider `{id}` (known: {})", known.join(", ")),
                );
                (Err(error), FetchStats::default())
            }
        }
    }
}
