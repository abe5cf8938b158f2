//! The validated IR: what `validate` makes of a definition, and all that the engines read.
//!
//! Every path is compiled, every template parsed, every regex built and every name resolved here,
//! once. Nothing downstream parses a string from a definition again, and nothing downstream needs
//! the spans: those belong to `spec` and `validate`.

use std::collections::HashMap;
use std::time::Duration;

use regex_lite::Regex;
use serde_json::Value;

use crate::runtime::ErrorKind;
use crate::spec::{Aggregate, CompareOp, InputLocation, Method, ProgressUnit, Scope, ValueType};
use crate::syntax::expr::Expr;
use crate::syntax::jsonpath::JsonPath;
use crate::syntax::template::Template;
use crate::task::State;

/// One provider, ready to run.
#[derive(Debug, Clone)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub docs: Option<String>,
    pub api_version: Option<String>,
    /// `None` when the task id is a whole URL (an input `in: url`).
    pub base_url: Option<Template>,
    pub base_url_confirmed: bool,
    pub inputs: Vec<Input>,
    /// Index into `inputs` of the task-id input.
    pub task_id_input: usize,
    pub request: Request,
    pub auth: Auth,
    pub response: ResponsePlan,
    pub failures: FailurePlan,
    pub polling: Polling,
    /// The request limits the provider documents, each kept by `watch`.
    pub rate_limits: Vec<RateLimit>,
    pub limits: Limits,
    pub examples: Vec<Example>,
    pub scenarios: Vec<Scenario>,
}

impl Provider {
    /// The task-id input.
    pub fn task_id_input(&self) -> &Input {
        &self.inputs[self.task_id_input]
    }

    pub fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// The values a request is made with, by input name: the task id, each given input, and
    /// the default of every other that has one.
    pub fn request_inputs(
        &self,
        task_id: &str,
        given: &[(String, String)],
    ) -> Vec<(String, String)> {
        let task_input = &self.task_id_input().name;
        self.inputs
            .iter()
            .filter_map(|input| {
                let value = if input.name == *task_input {
                    Some(task_id.to_owned())
                } else {
                    given
                        .iter()
                        .find(|(name, _)| *name == input.name)
                        .map(|(_, value)| value.clone())
                        .or_else(|| input.default.clone())
                };
                value.map(|value| (input.name.clone(), value))
            })
            .collect()
    }

    /// The task id an example answers for (`example-task` when its inputs leave it out).
    pub fn example_task_id<'a>(&self, example: &'a Example) -> &'a str {
        let name = &self.task_id_input().name;
        example
            .inputs
            .iter()
            .find(|(n, _)| n == name)
            .map_or(EXAMPLE_TASK_ID, |(_, value)| value.as_str())
    }

    /// A value for each required input other than the task id (host inputs aside, and inputs
    /// with a default): what a request to the sandbox needs. Each comes from the examples, else
    /// is generated from the input's pattern (deterministically); an input with neither is left
    /// out.
    /// Whether a host input is read besides the host (by a signature, a header template), so
    /// it is needed even when `--base-url` replaces the host.
    pub fn reads_host_input(&self, name: &str) -> bool {
        self.auth.inputs().contains(&name)
            || self
                .request
                .header_templates
                .iter()
                .any(|(_, t)| t.placeholders().any(|(n, _)| n == name))
    }

    pub fn sample_inputs(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .enumerate()
            .filter(|(i, input)| {
                *i != self.task_id_input
                    && input.required
                    && input.default.is_none()
                    && (input.location != InputLocation::Host || self.reads_host_input(&input.name))
            })
            .filter_map(|(_, input)| {
                let given = self
                    .examples
                    .iter()
                    .flat_map(|e| e.inputs.iter())
                    .find(|(name, _)| *name == input.name)
                    .map(|(_, value)| value.clone());
                given
                    .or_else(|| input.sample())
                    .map(|value| (input.name.clone(), value))
            })
            .collect()
    }
}

/// The task id of an example whose inputs do not name one.
pub const EXAMPLE_TASK_ID: &str = "example-task";

/// A value the caller passes.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub location: InputLocation,
    pub required: bool,
    pub default: Option<String>,
    /// Anchored: the whole value must match.
    pub pattern: Option<Regex>,
    /// For `in: url`: the hosts the URL may name (anchored, matched in lowercase).
    pub hosts: Option<Regex>,
    /// The name on the wire (query parameter, header, body field).
    pub wire_name: String,
    pub doc: Option<String>,
}

impl Input {
    /// Why `value` cannot be sent for this input, or `None` when it can: a line break anywhere;
    /// `""`, `.` or `..` in a path or a host (the URL parser would collapse them); a control
    /// character in a header value; a host value
    /// that is not a DNS name (nothing that could end the host ever reaches the URL, whatever
    /// the pattern allows); a value the pattern refuses. The request builder asks before any
    /// I/O, and `validate` asks of every example, so both refuse alike.
    pub fn refusal(&self, value: &str) -> Option<String> {
        let name = &self.name;
        if value.contains(['\r', '\n']) {
            return Some(format!("input `{name}` contains a line break"));
        }
        if matches!(self.location, InputLocation::Path | InputLocation::Host)
            && matches!(value, "" | "." | "..")
        {
            return Some(format!(
                "input `{name}` cannot be {value:?}: it would change the request's path"
            ));
        }
        // What an HTTP header value cannot carry: a control character (a tab aside).
        if self.location == InputLocation::Header
            && value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Some(format!(
                "input `{name}` goes in a header, which cannot carry a control character"
            ));
        }
        if self.location == InputLocation::Host && !crate::syntax::url::is_dns_name(value) {
            return Some(format!(
                "input `{name}` = {value:?} is not a host name (letters, digits, `-` and `.`)"
            ));
        }
        if self.location == InputLocation::Url
            && let Err(why) = self.url_value(value)
        {
            return Some(why);
        }
        match &self.pattern {
            Some(pattern) if !pattern.is_match(value) => Some(format!(
                "input `{name}` = {value:?} does not match its pattern `{}`",
                self.pattern_text().unwrap_or_default()
            )),
            _ => None,
        }
    }

    /// An `in: url` value as the URL it names: absolute, https (or http to loopback), no user
    /// or password, no fragment, a DNS host that `hosts` accepts. Everything a credential could
    /// be sent to is settled here, before any I/O.
    pub fn url_value(&self, value: &str) -> Result<url::Url, String> {
        let name = &self.name;
        let url = url::Url::parse(value)
            .map_err(|e| format!("input `{name}` is not an absolute URL: {e}"))?;
        let loopback = crate::syntax::url::is_loopback(&url);
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            other => {
                return Err(format!(
                    "input `{name}` must be an https URL (plain http only to loopback), not `{other}`"
                ));
            }
        }
        if crate::syntax::url::has_credentials(&url) {
            return Err(format!(
                "input `{name}` cannot carry a user name or password"
            ));
        }
        if url.fragment().is_some() {
            return Err(format!("input `{name}` cannot have a `#fragment`"));
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let allowed = match &self.hosts {
            Some(hosts) => {
                (crate::syntax::url::is_dns_name(&host) || loopback) && hosts.is_match(&host)
            }
            None => false,
        };
        if !allowed {
            return Err(format!(
                "input `{name}` names the host {host:?}, which the definition does not allow{}",
                self.hosts_text()
                    .map(|h| format!(" (hosts: `{h}`)"))
                    .unwrap_or_default()
            ));
        }
        Ok(url)
    }

    /// A value this input accepts, generated from its pattern (`sandbox` without one), the same
    /// every time; `None` when the pattern leaves no value the input takes.
    pub fn sample(&self) -> Option<String> {
        let Some(pattern) = self.pattern_text() else {
            return self
                .refusal("sandbox")
                .is_none()
                .then(|| "sandbox".to_owned());
        };
        let sampler = crate::syntax::sample::Sampler::new(pattern).ok()?;
        (0..16)
            .map(|n| sampler.sample(crate::syntax::sample::seed(&[&self.name, &n.to_string()])))
            .find(|value| self.refusal(value).is_none())
    }

    /// The pattern as written in the definition (without the anchors added to compile it).
    pub fn pattern_text(&self) -> Option<&str> {
        self.pattern.as_ref().map(|p| unanchored(p.as_str()))
    }

    /// `hosts` as written in the definition.
    pub fn hosts_text(&self) -> Option<&str> {
        self.hosts.as_ref().map(|p| unanchored(p.as_str()))
    }
}

/// A pattern as written, without the anchors added to compile it.
fn unanchored(pattern: &str) -> &str {
    pattern
        .strip_prefix("^(?:")
        .and_then(|p| p.strip_suffix(")$"))
        .unwrap_or(pattern)
}

/// The status request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: Template,
    pub flags: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// Headers whose value has `{input}` placeholders (an input sent twice, such as an account
    /// id in the host and in `x-amz-account-id`).
    pub header_templates: Vec<(String, Template)>,
    pub body: Option<Value>,
    /// The body as a template of the inputs, instead of `body`.
    pub body_template: Option<crate::syntax::body::BodyTemplate>,
}

/// How a request is authenticated; each names the environment variable(s) of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer {
        env: String,
    },
    Header {
        name: String,
        prefix: String,
        env: String,
    },
    Query {
        param: String,
        env: String,
    },
    Basic {
        username_env: String,
        /// `None`: an empty password (an API key as the user name).
        password_env: Option<String>,
    },
    /// Query parameters given whole by one secret (an Azure SAS token).
    QueryString {
        env: String,
    },
    /// A bearer token from an OAuth 2.0 grant.
    OAuth2(Box<OAuth2>),
    /// A signature computed for each attempt.
    Sign(Box<Signing>),
    /// Alternatives: the first whose required variables are all set is used.
    AnyOf(Vec<Auth>),
}

impl Auth {
    /// The variables this scheme cannot go without (for `AnyOf`: none, it picks).
    pub fn required_env(&self) -> Vec<&str> {
        match self {
            Auth::None | Auth::AnyOf(_) => Vec::new(),
            Auth::Bearer { env }
            | Auth::Header { env, .. }
            | Auth::Query { env, .. }
            | Auth::QueryString { env } => vec![env],
            Auth::Basic {
                username_env,
                password_env,
            } => std::iter::once(username_env.as_str())
                .chain(password_env.as_deref())
                .collect(),
            Auth::OAuth2(oauth) => oauth.required_env(),
            Auth::Sign(signing) => signing.required_env(),
        }
    }

    /// Every variable this scheme reads (optional ones included; for `AnyOf`, every
    /// alternative's).
    pub fn env_names(&self) -> Vec<&str> {
        let mut names = match self {
            Auth::AnyOf(alternatives) => alternatives.iter().flat_map(Auth::env_names).collect(),
            Auth::Sign(signing) => {
                let mut names = signing.required_env();
                names.extend(signing.optional_env());
                names
            }
            other => other.required_env(),
        };
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(*n));
        names
    }

    /// The inputs a signature reads (a region, an account), of every alternative.
    pub fn inputs(&self) -> Vec<&str> {
        match self {
            Auth::AnyOf(list) => list.iter().flat_map(Auth::inputs).collect(),
            Auth::Sign(signing) => match &**signing {
                Signing::AwsSigV4 {
                    region: Region::Input(name),
                    ..
                } => vec![name],
                Signing::AzureSharedKey { account_input, .. } => vec![account_input],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The scheme's name as `providers` shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Bearer { .. } => "bearer",
            Auth::Header { .. } => "header",
            Auth::Query { .. } => "query",
            Auth::Basic { .. } => "basic",
            Auth::QueryString { .. } => "query_string",
            Auth::OAuth2(oauth) => match oauth.grant {
                Grant::ClientCredentials { .. } => "oauth2 client_credentials",
                Grant::RefreshToken { .. } => "oauth2 refresh_token",
                Grant::JwtBearer(_) => "oauth2 jwt_bearer",
            },
            Auth::Sign(signing) => match **signing {
                Signing::AwsSigV4 { .. } => "aws_sigv4",
                Signing::Acs3 { .. } => "acs3_hmac_sha256",
                Signing::AzureSharedKey { .. } => "azure_shared_key",
            },
            Auth::AnyOf(_) => "any_of",
        }
    }
}

/// An OAuth 2.0 grant and where its token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2 {
    pub grant: Grant,
    /// The token endpoint; `{NAME}` placeholders are environment variables. `None`: the key
    /// file's `token_uri` (JWT bearer with a key file only).
    pub token_url: Option<Template>,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub client_auth: ClientAuth,
}

impl OAuth2 {
    fn required_env(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .token_url
            .iter()
            .flat_map(|t| t.placeholders().map(|(name, _)| name))
            .collect();
        match &self.grant {
            Grant::ClientCredentials {
                client_id_env,
                client_secret_env,
            } => names.extend([client_id_env.as_str(), client_secret_env.as_str()]),
            Grant::RefreshToken {
                client_id_env,
                client_secret_env,
                refresh_token_env,
            } => {
                names.extend([refresh_token_env.as_str(), client_id_env.as_str()]);
                names.extend(client_secret_env.as_deref());
            }
            Grant::JwtBearer(JwtKey::KeyFile { env }) => names.push(env),
            Grant::JwtBearer(JwtKey::Pem {
                issuer_env,
                private_key_env,
                key_id_env,
                subject_env,
            }) => {
                names.extend([issuer_env.as_str(), private_key_env.as_str()]);
                names.extend(key_id_env.as_deref());
                names.extend(subject_env.as_deref());
            }
        }
        names
    }
}

/// Which OAuth 2.0 grant, with the variables each reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    ClientCredentials {
        client_id_env: String,
        client_secret_env: String,
    },
    RefreshToken {
        client_id_env: String,
        client_secret_env: Option<String>,
        refresh_token_env: String,
    },
    JwtBearer(JwtKey),
}

impl Grant {
    /// The grant's name in the definition and in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Grant::ClientCredentials { .. } => "client_credentials",
            Grant::RefreshToken { .. } => "refresh_token",
            Grant::JwtBearer(_) => "jwt_bearer",
        }
    }
}

/// Where a JWT bearer assertion's key and issuer come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtKey {
    /// A service-account key file (Google's format), named by a variable.
    KeyFile { env: String },
    /// An issuer and a PEM RSA key, each from a variable.
    Pem {
        issuer_env: String,
        private_key_env: String,
        key_id_env: Option<String>,
        subject_env: Option<String>,
    },
}

/// How the client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// HTTP basic auth with the client id and secret (RFC 6749 §2.3.1).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// A request signature, computed for each attempt with a fresh date (and nonce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    AwsSigV4 {
        service: String,
        region: Region,
        content_sha256: bool,
        access_key_id_env: String,
        secret_access_key_env: String,
        session_token_env: String,
    },
    Acs3 {
        access_key_id_env: String,
        access_key_secret_env: String,
        security_token_env: String,
    },
    AzureSharedKey {
        /// The input holding the account name.
        account_input: String,
        key_env: String,
    },
}

impl Signing {
    fn required_env(&self) -> Vec<&str> {
        match self {
            Signing::AwsSigV4 {
                access_key_id_env,
                secret_access_key_env,
                ..
            } => vec![access_key_id_env, secret_access_key_env],
            Signing::Acs3 {
                access_key_id_env,
                access_key_secret_env,
                ..
            } => vec![access_key_id_env, access_key_secret_env],
            Signing::AzureSharedKey { key_env, .. } => vec![key_env],
        }
    }

    /// Variables read when set (a session token).
    pub fn optional_env(&self) -> Vec<&str> {
        match self {
            Signing::AwsSigV4 {
                session_token_env, ..
            } => vec![session_token_env],
            Signing::Acs3 {
                security_token_env, ..
            } => vec![security_token_env],
            Signing::AzureSharedKey { .. } => Vec::new(),
        }
    }
}

/// Where a signing region comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Region {
    Input(String),
    Fixed(String),
}

/// How a successful body becomes an `UploadTask`.
#[derive(Debug, Clone)]
pub struct ResponsePlan {
    /// How bodies are written (error bodies included).
    pub format: crate::spec::BodyFormat,
    pub envelope: Option<EnvelopePlan>,
    pub state: StatePlan,
    pub id: Option<Field>,
    pub created_at: Option<Field>,
    pub started_at: Option<Field>,
    pub updated_at: Option<Field>,
    pub completed_at: Option<Field>,
    pub progress: Option<ProgressPlan>,
    pub files: Vec<FilesPlan>,
    pub errors: Vec<ErrorsPlan>,
    pub extra: Vec<(String, Field)>,
    /// Non-2xx statuses that are answers about the task, tried in order.
    pub answers: Vec<AnswerPlan>,
    pub next: Option<NextPlan>,
}

/// A follow-up task on another definition.
#[derive(Debug, Clone)]
pub struct NextPlan {
    /// The states that hand over.
    pub states: Vec<State>,
    pub provider: String,
    /// Where the definition names the provider: what a link check points at (a definition
    /// alone cannot tell whether the other exists).
    pub provider_span: crate::spec::Span,
    pub task_id: Field,
    pub inputs: Vec<(String, Field)>,
}

/// A non-2xx status that is an answer about the task.
#[derive(Debug, Clone)]
pub struct AnswerPlan {
    pub statuses: Vec<u16>,
    pub when: Option<Condition>,
    /// The state whatever the body says (the native status is then the HTTP status).
    pub state: Option<State>,
}

/// An envelope around the payload.
#[derive(Debug, Clone)]
pub struct EnvelopePlan {
    pub when: Option<Condition>,
    pub root: JsonPath,
    pub success: Option<Condition>,
}

/// Where the native status comes from and how it maps.
#[derive(Debug, Clone)]
pub struct StatePlan {
    pub native: NativePlan,
    pub documented: Vec<String>,
    pub map: HashMap<String, State>,
    /// Native text → the provider's name for it.
    pub labels: HashMap<String, String>,
    pub rules: Vec<RulePlan>,
    /// The status field's value when it is absent or null.
    pub default: Option<Value>,
}

/// The native status source.
#[derive(Debug, Clone)]
pub enum NativePlan {
    String(JsonPath),
    Integer(JsonPath),
    /// The path and the name written before `=` in the native text.
    Boolean(JsonPath, String),
    /// Candidate paths with the names they produce.
    Presence(Vec<(JsonPath, String)>),
    TagKey(JsonPath),
    /// The answer's HTTP status.
    HttpStatus,
    /// A response header (lower-case name); `none` when absent.
    Header(String),
    /// Statuses read together, by axis name: `upload=complete, transcode=in_progress`.
    Axes(Vec<(String, NativePlan)>),
}

/// A state rule.
#[derive(Debug, Clone)]
pub struct RulePlan {
    /// Empty: any native value.
    pub native: Vec<String>,
    pub when: Condition,
    pub state: State,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    Equals {
        subject: Subject,
        value: Value,
        ignore_case: bool,
    },
    In {
        subject: Subject,
        values: Vec<Value>,
        ignore_case: bool,
    },
    Exists(Subject),
    Absent(Subject),
    Null(Subject),
    Empty(Subject),
    NonEmpty(Subject),
    /// The HTTP status is one of these.
    Status(Vec<u16>),
    Compare {
        left: Box<Field>,
        op: CompareOp,
        right: Box<Operand>,
    },
    BeforeNow(Box<Field>),
    AfterNow(Box<Field>),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

/// What a condition tests.
#[derive(Debug, Clone)]
pub enum Subject {
    /// The nodes a path selects from a scope.
    Path(JsonPath, Scope),
    /// A response header's values (the name lowercased).
    Header(String),
}

/// The right side of `compare`.
#[derive(Debug, Clone)]
pub enum Operand {
    Field(Field),
    Number(f64),
}

/// A value read from an answer.
#[derive(Debug, Clone)]
pub struct Field {
    pub source: FieldSource,
    /// Where a path source starts.
    pub scope: Scope,
    pub kind: ValueType,
    /// How a timestamp may be written, tried in order (never empty).
    pub time_formats: Vec<TimeFormat>,
    /// The zone of times written without an offset.
    pub zone: jiff::tz::TimeZone,
    /// A duration's bare numbers count milliseconds (else seconds).
    pub duration_millis: bool,
    pub join: Option<String>,
    /// Split a string into its non-empty, trimmed parts.
    pub split: Option<String>,
    pub aggregate: Option<Aggregate>,
    /// What happens to a selected value before its type is read; `None` for most fields.
    pub convert: Option<Box<Conversions>>,
    /// Arithmetic worked out for each selected value (`@`).
    pub expr: Option<Box<Expr>>,
    /// The field reads its own value only when this holds.
    pub when: Option<Box<Condition>>,
    /// Read when this field reads nothing, before its default.
    pub fallback: Option<Box<Field>>,
}

impl Field {
    /// Whether the field reads its source as it is: no condition, conversion, expression or
    /// fallback (nor a default, which is a conversion).
    pub fn is_bare(&self) -> bool {
        self.when.is_none()
            && self.convert.is_none()
            && self.expr.is_none()
            && self.fallback.is_none()
    }

    /// A field reading `source` as `kind`, with no conversion.
    pub fn plain(source: FieldSource, kind: ValueType) -> Field {
        Field {
            source,
            scope: Scope::Payload,
            kind,
            time_formats: vec![TimeFormat::Rfc3339],
            zone: jiff::tz::TimeZone::UTC,
            duration_millis: false,
            join: None,
            split: None,
            aggregate: None,
            convert: None,
            expr: None,
            when: None,
            fallback: None,
        }
    }
}

/// Value conversions, applied to each selected node in this order: a null sentinel reads as
/// null, a capture takes part of the text, a mapped value reads as its replacement; when nothing
/// is left, the default.
#[derive(Debug, Clone, Default)]
pub struct Conversions {
    /// The text of the first group (or the whole match) of each value's text.
    pub capture: Option<Regex>,
    /// Provider value as text → the value read instead.
    pub values: Vec<(String, Value)>,
    /// Values read as null.
    pub nulls: Vec<Value>,
    /// The value when the field is absent or null.
    pub default: Option<Value>,
}

/// Where a field's value comes from.
#[derive(Debug, Clone)]
pub enum FieldSource {
    Path(JsonPath),
    Constant(String),
    /// A response header (the name lowercased): every value it has, in order.
    Header(String),
    /// The value of one of the task's inputs.
    Input(String),
}

/// How a timestamp is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    Rfc3339,
    EpochSeconds,
    EpochMillis,
    /// An HTTP date (RFC 9110: `Sun, 06 Nov 1994 08:49:37 GMT` and the two obsolete forms).
    HttpDate,
    /// A strftime pattern for a naive time, read as UTC.
    Naive(String),
}

/// Progress.
#[derive(Debug, Clone)]
pub struct ProgressPlan {
    pub unit: ProgressUnit,
    pub done: Field,
    pub total: Option<Field>,
}

/// Files from items.
#[derive(Debug, Clone)]
pub struct FilesPlan {
    pub each: JsonPath,
    /// Where `each` starts.
    pub from: Scope,
    /// Only the items for which this holds.
    pub when: Option<Condition>,
    pub id: Option<Field>,
    pub name: Option<Field>,
    pub url: Option<Field>,
    pub source_url: Option<Field>,
    pub path: Option<Field>,
    pub size: Option<Field>,
    pub mime: Option<Field>,
    pub md5: Option<Field>,
}

/// Task errors from items.
#[derive(Debug, Clone)]
pub struct ErrorsPlan {
    pub each: JsonPath,
    /// Where `each` starts.
    pub from: Scope,
    /// Only the items for which this holds.
    pub when: Option<Condition>,
    pub message: Field,
    pub code: Option<Field>,
    pub item: Option<Field>,
}

/// How a failed request becomes a typed error.
#[derive(Debug, Clone, Default)]
pub struct FailurePlan {
    pub bodies: Vec<ErrorBodyPlan>,
    pub codes: HashMap<String, ErrorKind>,
    pub statuses: HashMap<u16, ErrorKind>,
    pub in_body: Vec<(Condition, ErrorKind)>,
    pub retryable_statuses: Vec<u16>,
    pub retryable_codes: Vec<String>,
    pub retry_after_header: Option<String>,
    /// A wait read from the answer: seconds (`Duration`, `Number`) or a time (`Timestamp`).
    pub retry_after: Option<Field>,
}

/// One error body shape.
#[derive(Debug, Clone)]
pub struct ErrorBodyPlan {
    pub code: Option<Field>,
    pub message: Option<Field>,
    /// Details listed in the body.
    pub details: Vec<ErrorsPlan>,
}

/// How large an answer may be, and whether the task keeps it whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `None`: the client's default.
    pub max_body_bytes: Option<usize>,
    pub keep_raw: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: None,
            keep_raw: true,
        }
    }
}

/// A documented request limit: `requests` per `per`, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// From 1 to 1,000,000.
    pub requests: u32,
    /// The window `requests` are counted in.
    pub per: Duration,
    /// From 1 to `requests` when the provider documents a bucket; `None`: a window, which no
    /// `per` may hold more than `requests` of (a client spaces requests evenly).
    pub burst: Option<u32>,
    /// What the provider counts against the limit.
    pub scope: crate::spec::RateLimitScope,
}

impl std::str::FromStr for RateLimit {
    type Err = String;

    /// `REQUESTS/PER`, then `,burst=N` for a bucket and `,scope=host` for a limit shared by
    /// the host: `190/10s`, `1000/10s,burst=1000`. The same bounds as a definition's.
    fn from_str(text: &str) -> Result<RateLimit, String> {
        let mut parts = text.split(',');
        let (requests, per) = parts
            .next()
            .and_then(|first| first.split_once('/'))
            .ok_or_else(|| format!("expected `REQUESTS/PER` like `100/10s`, got {text:?}"))?;
        let requests: u32 = requests
            .trim()
            .parse()
            .ok()
            .filter(|r| (1..=1_000_000).contains(r))
            .ok_or_else(|| format!("{requests:?} is not a count of requests from 1 to 1000000"))?;
        let per = per
            .trim()
            .parse::<jiff::SignedDuration>()
            .ok()
            .and_then(|d| Duration::try_from(d).ok())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("{per:?} is not a duration like `1s` or `10m`"))?;
        if per > RateLimit::LONGEST_WINDOW {
            return Err(format!("{per:?} is a window longer than 30 days"));
        }
        let mut limit = RateLimit {
            requests,
            per,
            burst: None,
            scope: crate::spec::RateLimitScope::Credential,
        };
        for part in parts {
            match part.trim().split_once('=') {
                Some(("burst", n)) => {
                    limit.burst = Some(
                        n.trim()
                            .parse()
                            .ok()
                            .filter(|b| (1..=requests).contains(b))
                            .ok_or_else(|| format!("burst {n:?} is not from 1 to {requests}"))?,
                    );
                }
                Some(("scope", "credential")) => {
                    limit.scope = crate::spec::RateLimitScope::Credential;
                }
                Some(("scope", "host")) => limit.scope = crate::spec::RateLimitScope::Host,
                _ => {
                    return Err(format!(
                        "{part:?} is not `burst=N`, `scope=credential` or `scope=host`"
                    ));
                }
            }
        }
        Ok(limit)
    }
}

impl RateLimit {
    /// The longest window a limit may count in: 30 days (a monthly quota). Longer is no pace a
    /// watch can keep, and a definition's typo more often than a provider's limit.
    pub const LONGEST_WINDOW: Duration = Duration::from_secs(30 * 86_400);

    /// The time one request's allowance takes to come back: `per / requests`.
    pub fn interval(&self) -> Duration {
        self.per / self.requests.max(1)
    }
}

/// Polling hints.
#[derive(Debug, Clone, PartialEq)]
pub struct Polling {
    pub interval: Duration,
    pub max_interval: Duration,
    pub backoff: f64,
}

impl Default for Polling {
    fn default() -> Self {
        Polling {
            interval: Duration::from_secs(2),
            max_interval: Duration::from_secs(60),
            backoff: 1.5,
        }
    }
}

/// An example response and what it must produce.
#[derive(Debug, Clone)]
pub struct Example {
    pub name: String,
    pub inputs: Vec<(String, String)>,
    /// The clock the example is read at (time-relative conditions); `None` is the real one.
    pub now: Option<jiff::Timestamp>,
    pub response: ExampleResponse,
    pub expect: Expectation,
}

/// An example HTTP response.
#[derive(Debug, Clone)]
pub struct ExampleResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What an example must produce: the `UploadTask` as JSON (without `provider` and `raw`, with
/// defaults filled in), or an error.
#[derive(Debug, Clone)]
pub enum Expectation {
    Task(serde_json::Map<String, Value>),
    Error(ExpectedError),
}

/// An expected error: `code` is compared exactly (`None` = the error has no code); `message`,
/// `retryable` and `retry_after` only when given.
#[derive(Debug, Clone)]
pub struct ExpectedError {
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: Option<String>,
    pub retryable: Option<bool>,
    pub retry_after: Option<u64>,
    /// Each detail as JSON (`{code, message, item}`), when given.
    pub details: Option<Vec<Value>>,
}

/// A lifecycle for the sandbox.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub task_id: String,
    /// Indexes into `examples`.
    pub steps: Vec<usize>,
}
