//! The definition format: raw serde types that mirror a `providers/<id>.yaml` file.
//!
//! This module is the only definition of the format. The JSON Schema (`unitask schema`,
//! `providers/provider.schema.json`) is derived from these types, and `validate` turns them into
//! the checked [`crate::model`] that both engines read. Nothing here interprets a value: strings
//! that hold a mini-language (JSONPath, URL templates, regexes, durations) stay strings with their
//! span, so `validate` can point inside them.

pub mod de;
pub mod node;
pub mod span;

#[cfg(feature = "schema")]
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

#[cfg(feature = "schema")]
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

pub use span::{Span, Spanned};

/// A text value with its span: a JSONPath, a template, a name.
pub type Text = Spanned<String>;

/// One provider's "get upload / import task status" API.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(title = "unitask provider definition"))]
pub struct Definition {
    /// The provider id; must equal the file name without `.yaml` (lowercase, digits, `-`).
    pub id: Text,
    /// A human name for the provider and operation.
    pub name: String,
    /// The provider's documentation page for this operation.
    #[serde(default)]
    pub docs: Option<String>,
    /// The provider API version this definition describes (informational).
    #[serde(default)]
    pub api_version: Option<String>,
    /// The base URL, possibly with `{host_input}` placeholders (each constrained by a pattern).
    /// Plain `http://` is only allowed for loopback hosts. Absent when the task id is a whole
    /// URL (an input `in: url`).
    #[serde(default)]
    pub base_url: Option<Text>,
    /// `false` when the base URL could not be confirmed from the provider's documentation: callers
    /// are told to pass their own (`--base-url`).
    #[serde(default = "yes")]
    pub base_url_confirmed: bool,
    /// The values a caller passes: task id, path segments, host names, query and header values.
    pub inputs: OrderedMap<Input>,
    /// How the status request is made (a `GET` of the task id's URL when left out).
    #[serde(default)]
    pub request: Request,
    /// How the request is authenticated. Secrets come from environment variables or the caller.
    pub auth: Auth,
    /// How a successful response body maps into the unified `UploadTask`.
    pub response: Response,
    /// How failed requests (and failures reported inside a 200) map into a typed error.
    #[serde(default)]
    pub failures: Failures,
    /// Polling hints for `watch`.
    #[serde(default)]
    pub polling: Option<Polling>,
    /// The limits the provider documents on these requests: `watch` keeps under every one.
    #[serde(default)]
    pub rate_limits: Vec<RateLimit>,
    /// How large an answer may be, and whether the task keeps it whole.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// Example responses with the exact `UploadTask` or error each must produce.
    #[serde(default)]
    pub examples: Vec<Example>,
    /// Lifecycles (sequences of examples) that the sandbox plays for one task id.
    #[serde(default)]
    pub scenarios: Vec<Scenario>,
}

fn yes() -> bool {
    true
}

/// A value the caller passes.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Where the value goes: a `{placeholder}` in the path or the base URL's host, a query
    /// parameter, a header, a top-level field of the JSON request body, or the whole URL (`url`:
    /// a status URL a previous answer gave, which is then the task id).
    #[serde(rename = "in")]
    pub location: Spanned<InputLocation>,
    /// `task_id` marks the input that identifies the task; exactly one input has it.
    #[serde(default)]
    pub role: Option<Spanned<InputRole>>,
    /// Whether the caller must give a value. Defaults to true for path and host inputs without a
    /// default, false otherwise; the task id is always required.
    #[serde(default)]
    pub required: Option<Spanned<bool>>,
    /// The value used when the caller gives none.
    #[serde(default)]
    pub default: Option<Text>,
    /// A regular expression the whole value must match (anchored automatically).
    #[serde(default)]
    pub pattern: Option<Text>,
    /// For `in: url`: a regular expression the URL's host must match (anchored, compared in
    /// lowercase), so a credential only ever goes to the provider's own hosts.
    #[serde(default)]
    pub hosts: Option<Text>,
    /// The parameter or header name on the wire, when it differs from the input's name.
    #[serde(default)]
    pub wire_name: Option<Text>,
    /// What the value is, for `--help`, generated docs and the JSON Schema.
    #[serde(default)]
    pub doc: Option<String>,
}

/// Where an input's value is placed in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputLocation {
    Path,
    Host,
    Query,
    Header,
    Body,
    /// The whole status URL (https, or http to loopback; its host must match `hosts`).
    Url,
    /// Not sent: a value carried to the follow-up definition (`response.next.inputs`).
    Next,
}

/// The role an input plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputRole {
    TaskId,
}

/// The status request.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `GET` (default); `POST` for APIs that read with a JSON body; `HEAD` for status in headers;
    /// `PUT` (empty, or with a JSON body) for upload sessions that answer their status to it.
    #[serde(default)]
    pub method: Method,
    /// The path template, e.g. `/files/v3/tasks/{task_id}/status`; every `{name}` is a declared
    /// path input and every path input appears. With an `in: url` task id, it is added to the
    /// URL's path (usually absent).
    #[serde(default)]
    pub path: Option<Text>,
    /// Valueless query flags, sent as `?name` (e.g. `upload`).
    #[serde(default)]
    pub flags: Vec<Text>,
    /// Fixed query parameters.
    #[serde(default)]
    pub query: OrderedMap<Text>,
    /// Fixed headers.
    #[serde(default)]
    pub headers: OrderedMap<Text>,
    /// A JSON body for `POST` or `PUT` written as a template (minijinja) whose variables are the
    /// inputs, every printed value JSON-encoded: `{"variables": {"id": {{ task_id }}}}`. An
    /// input with no value prints `null`; `{% set q %}...{% endset %}` with `{{ q|tojson }}`
    /// keeps long text (a GraphQL query) readable.
    #[serde(default)]
    pub body_template: Option<Text>,
    /// A fixed JSON body for `POST` or `PUT`; `in: body` inputs are added as top-level fields.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub body: Option<Spanned<serde_json::Value>>,
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum Method {
    #[default]
    #[serde(rename = "GET", alias = "get")]
    Get,
    /// For APIs that read with a JSON body.
    #[serde(rename = "POST", alias = "post")]
    Post,
    /// For status carried by headers alone (tus); answers have no body.
    #[serde(rename = "HEAD", alias = "head")]
    Head,
    /// For APIs that report status to an empty `PUT` (a resumable upload's session).
    #[serde(rename = "PUT", alias = "put")]
    Put,
}

impl Method {
    /// The method as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Head => "HEAD",
            Method::Put => "PUT",
        }
    }

    /// Whether requests of this method may carry a body.
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put)
    }
}

/// How the request is authenticated. A secret is read from the named environment variable unless
/// the library caller passes it.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer <secret>`.
    Bearer(SecretSource),
    /// A named header, with an optional prefix before the secret.
    Header(HeaderAuth),
    /// A query parameter.
    Query(QueryAuth),
    /// HTTP basic auth from two secrets.
    Basic(BasicAuth),
    /// Query parameters given whole by one secret, such as an Azure SAS token
    /// (`sv=…&sig=…`, with or without a leading `?`).
    QueryString(SecretSource),
    /// An OAuth 2.0 access token from a grant (client credentials, a refresh token, or a JWT
    /// bearer assertion), fetched, cached and refreshed by the client, sent as a bearer token.
    Oauth2(Box<OAuth2Auth>),
    /// AWS Signature Version 4, computed for each attempt.
    AwsSigv4(Box<AwsSigV4Auth>),
    /// Alibaba Cloud's ACS3-HMAC-SHA256 (the V3 signature), computed for each attempt.
    Acs3HmacSha256(Box<Acs3Auth>),
    /// Azure Storage Shared Key, computed for each attempt.
    AzureSharedKey(AzureSharedKeyAuth),
    /// Alternatives, in order: the first whose credentials are all present is used. `none`
    /// may come last (anonymous when no credential is set).
    AnyOf(Vec<Spanned<Auth>>),
}

/// An OAuth 2.0 grant. Which fields are needed depends on `grant`: `client_credentials` takes
/// `client_id_env` and `client_secret_env`; `refresh_token` takes `client_id_env` and
/// `refresh_token_env` (and `client_secret_env` for a confidential client); `jwt_bearer` takes `key_file_env` (a Google service-account key
/// file) or `issuer_env` and `private_key_env` (a PEM RSA key).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OAuth2Auth {
    /// `client_credentials` (RFC 6749 §4.4), `refresh_token` (§6) or `jwt_bearer` (RFC 7523,
    /// an RS256 assertion).
    pub grant: Text,
    /// The token endpoint: https, or http to a loopback host. `{NAME}` placeholders are
    /// environment variables (a tenant id). A key file's own `token_uri` wins over it.
    #[serde(default)]
    pub token_url: Option<Text>,
    /// Scopes, sent space-separated (`scope` in the JWT bearer assertion).
    #[serde(default)]
    pub scopes: Vec<Text>,
    /// An `audience` parameter (client credentials), or the assertion's `aud` (JWT bearer;
    /// the token URL when absent).
    #[serde(default)]
    pub audience: Option<Text>,
    /// How the client authenticates to the token endpoint: `basic` (default) or `body`.
    #[serde(default)]
    pub client_auth: Option<Text>,
    /// The variable holding the client id.
    #[serde(default)]
    pub client_id_env: Option<Text>,
    /// The variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<Text>,
    /// The variable holding a refresh token.
    #[serde(default)]
    pub refresh_token_env: Option<Text>,
    /// The variable naming a service-account key file (`client_email`, `private_key`,
    /// `private_key_id`, `token_uri`), such as `GOOGLE_APPLICATION_CREDENTIALS`.
    #[serde(default)]
    pub key_file_env: Option<Text>,
    /// The variable holding the assertion's issuer (`iss`).
    #[serde(default)]
    pub issuer_env: Option<Text>,
    /// The variable holding the PEM RSA private key that signs the assertion.
    #[serde(default)]
    pub private_key_env: Option<Text>,
    /// The variable holding the key id (`kid`) sent in the assertion's header.
    #[serde(default)]
    pub key_id_env: Option<Text>,
    /// The variable holding the assertion's subject (`sub`), when the provider wants one.
    #[serde(default)]
    pub subject_env: Option<Text>,
}

/// AWS Signature Version 4. The keys come from the standard variables unless named here.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AwsSigV4Auth {
    /// The signing name of the service, e.g. `mediaconvert`, `s3`.
    pub service: Text,
    /// The input that holds the region (also the signing region).
    #[serde(default)]
    pub region_input: Option<Text>,
    /// A fixed region, when no input gives one.
    #[serde(default)]
    pub region: Option<Text>,
    /// Sends and signs `x-amz-content-sha256` (S3 and S3 Control want it).
    #[serde(default)]
    pub content_sha256: bool,
    /// Default `AWS_ACCESS_KEY_ID`.
    #[serde(default)]
    pub access_key_id_env: Option<Text>,
    /// Default `AWS_SECRET_ACCESS_KEY`.
    #[serde(default)]
    pub secret_access_key_env: Option<Text>,
    /// Default `AWS_SESSION_TOKEN` (used when set).
    #[serde(default)]
    pub session_token_env: Option<Text>,
}

/// Alibaba Cloud's V3 signature. `x-acs-action` and `x-acs-version` are request headers.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Acs3Auth {
    /// Default `ALIBABA_CLOUD_ACCESS_KEY_ID`.
    #[serde(default)]
    pub access_key_id_env: Option<Text>,
    /// Default `ALIBABA_CLOUD_ACCESS_KEY_SECRET`.
    #[serde(default)]
    pub access_key_secret_env: Option<Text>,
    /// Default `ALIBABA_CLOUD_SECURITY_TOKEN` (sent as `x-acs-security-token` when set).
    #[serde(default)]
    pub security_token_env: Option<Text>,
}

/// Azure Storage Shared Key. `x-ms-version` is a request header.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AzureSharedKeyAuth {
    /// The input that holds the storage account name.
    pub account_input: Text,
    /// The variable holding the base64 account key. Default `AZURE_STORAGE_KEY`.
    #[serde(default)]
    pub key_env: Option<Text>,
}

/// Where a secret comes from.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// The environment variable that holds the secret.
    pub env: Text,
}

/// A secret in a named header.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HeaderAuth {
    /// The header name, e.g. `Access-Token`.
    pub name: Text,
    /// Text sent before the secret, e.g. `Token `.
    #[serde(default)]
    pub prefix: Option<Text>,
    /// The environment variable that holds the secret.
    pub env: Text,
}

/// A secret in a query parameter.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct QueryAuth {
    /// The query parameter name, e.g. `access_token`.
    pub param: Text,
    /// The environment variable that holds the secret.
    pub env: Text,
}

/// HTTP basic auth.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The environment variable that holds the user name (or the API key, for APIs that take
    /// the key as the user name).
    pub username_env: Text,
    /// The environment variable that holds the password; absent, the password is empty.
    #[serde(default)]
    pub password_env: Option<Text>,
}

/// How a successful body becomes an `UploadTask`. Paths are evaluated on the payload root (the
/// body, or the envelope's `root`).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// How bodies are written: `json` (default) or `xml` (read into a tree by fixed rules:
    /// the root element by name, attributes under `@name`, text, repeated elements as lists).
    #[serde(default)]
    pub format: BodyFormat,
    /// An envelope around the payload, such as `{code, message, data}`.
    #[serde(default)]
    pub envelope: Option<Envelope>,
    /// Where the native status comes from and how it maps to a unified state.
    pub state: StateSpec,
    /// The task id and timestamps.
    #[serde(default)]
    pub fields: Fields,
    /// Progress, from counts, a sum, or a percent field.
    #[serde(default)]
    pub progress: Option<ProgressSpec>,
    /// Files the task produced: each entry selects items and maps their fields.
    #[serde(default)]
    pub files: Vec<FilesSpec>,
    /// Task-level failures the provider reports in the body.
    #[serde(default)]
    pub errors: Vec<ErrorsSpec>,
    /// Provider-specific typed values, by name.
    #[serde(default)]
    pub extra: OrderedMap<FieldSpec>,
    /// A follow-up on another definition once the task reaches a state: the result is a
    /// resource of its own (a copied file, a transcript), which `watch` follows to its end.
    #[serde(default)]
    pub next: Option<NextSpec>,
    /// Non-2xx HTTP statuses that answer about the task rather than fail the request: a `308`
    /// while an upload runs, a `404` or `410` once it expired, a `409` whose body says the job
    /// failed. Tried in order; the first that matches is mapped like a 2xx.
    #[serde(default)]
    pub answers: Vec<AnswerSpec>,
}

/// How answers' bodies are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    #[default]
    Json,
    /// XML, read into a tree: `<Error><Code>X</Code></Error>` is `{"Error": {"Code": "X"}}`.
    Xml,
}

/// A follow-up task on another definition.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NextSpec {
    /// The states that hand over (default: `[succeeded]`).
    #[serde(default)]
    pub when: Vec<Text>,
    /// The definition id that reads the follow-up.
    pub provider: Text,
    /// Its task id, read from the answer (a path, a header, or an input with `input:`).
    pub task_id: FieldSpec,
    /// Its other inputs, each read from the answer or carried from an input of this task
    /// (`{input: drive_id}`).
    #[serde(default)]
    pub inputs: OrderedMap<FieldSpec>,
}

/// An HTTP status that is an answer about the task.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AnswerSpec {
    /// The status, or a list of them.
    pub status: StatusList,
    /// Only answers for which this holds (on the whole body and the headers).
    #[serde(default)]
    pub when: Option<Spanned<Condition>>,
    /// The state, whatever the body says: the native status is then the HTTP status. Without
    /// it, the answer is mapped by `state` like any other.
    #[serde(default)]
    pub state: Option<Text>,
}

/// An envelope around the payload.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Only bodies matching this condition are enveloped (e.g. `exists: $.code`); absent means all.
    #[serde(default)]
    pub when: Option<Spanned<Condition>>,
    /// The payload root inside the envelope, e.g. `$.data`.
    pub root: Text,
    /// The envelope's success test, on the whole body. A body that fails it is a request error,
    /// read with `failures.bodies`.
    #[serde(default)]
    pub success: Option<Spanned<Condition>>,
}

/// The unified state.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    /// Where the native status comes from.
    pub native: Spanned<NativeSource>,
    /// Every value the provider documents, as the native status text; for a status with
    /// `axes`, the values of each axis (`{upload: [...], transcode: [...]}`). `validate` insists
    /// each one (each combination, with axes) is mapped by `map` (rules only refine).
    #[serde(default)]
    pub documented: Documented,
    /// Native status text → state.
    #[serde(default)]
    pub map: OrderedMap<Text>,
    /// Native status text → the provider's name for it, for coded statuses (`3: Transcoding`):
    /// the task carries it as `native_label`, `providers` shows it, and generated `Status`
    /// variants are named after it.
    #[serde(default)]
    pub labels: OrderedMap<Text>,
    /// Ordered rules, tried before `map`; the first that matches sets the state.
    #[serde(default)]
    pub rules: Vec<StateRule>,
    /// The status field's value when the provider leaves it out (or sends null): for a
    /// boolean it omits while false, write `default: false`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<serde_json::Value>"))]
    pub default: Option<Spanned<AnyValue>>,
}

/// Where the native status comes from, and what its text looks like.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NativeSource {
    /// A string field; the text is the string.
    String(Text),
    /// An integer field (or a string holding one); the text is the decimal number.
    Integer(Text),
    /// A boolean field; the text is `name=true` or `name=false`, `name` being the field's name.
    Boolean(Text),
    /// The first of these paths that is present and not null; the text is its last field name,
    /// or `none` when none is present.
    Presence(Vec<Text>),
    /// An object with a single key that names the status (`{"Running": {...}}`); the text is the key.
    TagKey(Text),
    /// The HTTP status of the answer (`200`, `308`, `404`): for APIs whose status code is the
    /// status. Non-2xx statuses must be listed in `response.answers`.
    HttpStatus,
    /// A response header's value, trimmed (`x-ms-copy-status`); `none` when the answer has no
    /// such header.
    Header(Text),
    /// Two or more statuses read together (`upload: {string: $.upload.status}`, `transcode:
    /// ...`); the text is `upload=complete, transcode=in_progress`. Map keys may name some
    /// axes (`upload=error`).
    #[cfg_attr(feature = "schema", schemars(with = "OrderedMap<NativeSource>"))]
    Axes(OrderedMap<Spanned<NativeSource>>),
}

/// The documented values of a status: a list, or a list per axis.
#[derive(Debug)]
pub enum Documented {
    List(Vec<Text>),
    Axes(OrderedMap<Vec<Text>>),
}

impl Default for Documented {
    fn default() -> Self {
        Documented::List(Vec::new())
    }
}

impl<'de> Deserialize<'de> for Documented {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;

        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = Documented;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of values, or a list per axis")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::<Text>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(Documented::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                OrderedMap::<Vec<Text>>::deserialize(serde::de::value::MapAccessDeserializer::new(
                    map,
                ))
                .map(Documented::Axes)
            }
        }
        deserializer.deserialize_any(ShapeVisitor)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for Documented {
    fn schema_name() -> Cow<'static, str> {
        "Documented".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The documented values: a list, or a list per axis for a status with `axes`.",
            "anyOf": [
                { "type": "array", "items": { "type": ["string", "number", "boolean"] } },
                { "type": "object", "additionalProperties": { "type": "array", "items": { "type": ["string", "number", "boolean"] } } }
            ]
        })
    }
}

/// A rule: when the condition holds (and the native text is one of `native`, if given), the
/// state is `state`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StateRule {
    /// Restrict the rule to these native values.
    #[serde(default)]
    pub native: Vec<Text>,
    /// The condition, on the payload root.
    pub when: Spanned<Condition>,
    /// The state when the rule matches.
    pub state: Text,
}

/// A test on the answer: its body (paths select nodes; a test on several nodes holds if it holds
/// for one), its headers and its HTTP status.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The value equals `value` (numbers compare by value; `ignore_case` for strings).
    Equals(Comparison),
    /// The value is one of `values`.
    In(Membership),
    /// The path selects a node (null included), or the header is present.
    Exists(Target),
    /// The path selects nothing, or the header is absent.
    Absent(Target),
    /// The path selects a null.
    Null(Target),
    /// The value is absent, null, `""`, `[]` or `{}`.
    Empty(Target),
    /// The value is present and not null, `""`, `[]` or `{}`.
    NonEmpty(Target),
    /// The HTTP status is one of these: `status: [404, 410]`.
    Status(StatusList),
    /// Two numbers compared: `{left: $.done, op: ge, right: $.total}` (or `value: 100` instead
    /// of `right`). Holds only when both sides read a number.
    Compare(Box<Comparing>),
    /// The timestamp is in the past (an expiry that has passed); holds only when it reads.
    BeforeNow(Box<FieldSpec>),
    /// The timestamp is in the future; holds only when it reads.
    AfterNow(Box<FieldSpec>),
    /// Every condition holds.
    All(Vec<Spanned<Condition>>),
    /// At least one condition holds.
    Any(Vec<Spanned<Condition>>),
    /// The condition does not hold.
    Not(Box<Spanned<Condition>>),
}

/// What a condition looks at: a JSONPath (a string), or a mapping with `path` (and `from`), or
/// `header`.
#[derive(Debug, Default)]
pub struct Target {
    pub span: Span,
    /// The JSONPath, relative to `from`.
    pub path: Option<Text>,
    /// A response header (names compare case-insensitively).
    pub header: Option<Text>,
    /// Where the path starts.
    pub from: Option<Spanned<Scope>>,
}

/// The written form of a [`Target`] mapping.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
struct TargetMap {
    /// The JSONPath.
    #[serde(default)]
    path: Option<Text>,
    /// A response header instead of a path.
    #[serde(default)]
    header: Option<Text>,
    /// Where the path starts: `item` (in `files` and `errors`), `payload` (the envelope's root,
    /// or the body) or `body` (the whole body).
    #[serde(default)]
    from: Option<Spanned<Scope>>,
}

impl StructKeys for TargetMap {
    const NAME: &'static str = "Target";
    const KEYS: &'static [&'static str] = &["path", "header", "from"];
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<StringOr<TargetMap>>::deserialize(deserializer)?;
        Ok(match spanned.value {
            StringOr::String(path) => Target {
                span: spanned.span,
                path: Some(Spanned::new(spanned.span, path)),
                ..Target::default()
            },
            StringOr::Map(map) => Target {
                span: spanned.span,
                path: map.path,
                header: map.header,
                from: map.from,
            },
        })
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for Target {
    fn schema_name() -> Cow<'static, str> {
        "Target".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let map = generator.subschema_for::<TargetMap>();
        json_schema!({
            "description": "A JSONPath string, or a mapping with `path` (and `from`) or `header`.",
            "anyOf": [{ "type": "string" }, map]
        })
    }
}

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The item a `files` or `errors` entry maps (the default there).
    Item,
    /// The payload: the envelope's root, or the whole body without an envelope (the default
    /// elsewhere).
    Payload,
    /// The whole body, envelope included.
    Body,
}

/// One HTTP status or a list of them.
#[derive(Debug)]
pub struct StatusList {
    pub span: Span,
    pub statuses: Vec<u16>,
}

impl<'de> Deserialize<'de> for StatusList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<OneOrMany<u16>>::deserialize(deserializer)?;
        Ok(StatusList {
            span: spanned.span,
            statuses: match spanned.value {
                OneOrMany::One(status) => vec![status],
                OneOrMany::Many(list) => list,
            },
        })
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for StatusList {
    fn schema_name() -> Cow<'static, str> {
        "StatusList".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An HTTP status, or a list of them.",
            "anyOf": [
                { "type": "integer", "minimum": 100, "maximum": 599 },
                { "type": "array", "items": { "type": "integer", "minimum": 100, "maximum": 599 } }
            ]
        })
    }
}

/// `compare`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Comparing {
    /// The left number.
    pub left: FieldSpec,
    /// `eq`, `ne`, `lt`, `le`, `gt` or `ge`.
    pub op: Spanned<CompareOp>,
    /// The right number, read from the answer.
    #[serde(default)]
    pub right: Option<FieldSpec>,
    /// The right number, fixed.
    #[serde(default)]
    pub value: Option<Spanned<f64>>,
}

/// How `compare` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// `equals`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// The JSONPath whose value is compared.
    #[serde(default)]
    pub path: Option<Text>,
    /// A response header instead (its text equals a number of the same value).
    #[serde(default)]
    pub header: Option<Text>,
    /// Where the path starts: `item`, `payload` or `body`.
    #[serde(default)]
    pub from: Option<Spanned<Scope>>,
    #[cfg_attr(feature = "schema", schemars(with = "serde_json::Value"))]
    pub value: Spanned<serde_json::Value>,
    #[serde(default)]
    pub ignore_case: bool,
}

/// `in`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Membership {
    /// The JSONPath whose value is tested.
    #[serde(default)]
    pub path: Option<Text>,
    /// A response header instead.
    #[serde(default)]
    pub header: Option<Text>,
    /// Where the path starts: `item`, `payload` or `body`.
    #[serde(default)]
    pub from: Option<Spanned<Scope>>,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<serde_json::Value>"))]
    pub values: Spanned<Vec<serde_json::Value>>,
    #[serde(default)]
    pub ignore_case: bool,
}

/// A string, or a mapping of the form `M`, told apart by the node's shape (no buffering, so
/// spans survive).
enum StringOr<M> {
    String(String),
    Map(Box<M>),
}

/// The keys of a mapping that may also be written as a string.
trait StructKeys {
    const NAME: &'static str;
    const KEYS: &'static [&'static str];
}

impl<'de, M: Deserialize<'de> + StructKeys> Deserialize<'de> for StringOr<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor<M>(PhantomData<M>);

        impl<'de, M: Deserialize<'de>> Visitor<'de> for ShapeVisitor<M> {
            type Value = StringOr<M>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSONPath string or a mapping")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOr::String(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                M::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|map| StringOr::Map(Box::new(map)))
            }
        }
        // Asking for a struct (not `any`) lets the definition deserializer check the mapping's
        // keys against these names, so a misspelt key is reported like any other unknown key.
        deserializer.deserialize_struct(M::NAME, M::KEYS, ShapeVisitor(PhantomData))
    }
}

/// One value or a list of them.
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ShapeVisitor<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(serde::de::value::U64Deserializer::new(v)).map(OneOrMany::One)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(serde::de::value::I64Deserializer::new(v)).map(OneOrMany::One)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(serde::de::value::StrDeserializer::new(v)).map(OneOrMany::One)
            }
        }
        deserializer.deserialize_any(ShapeVisitor(PhantomData))
    }
}

/// The task id and timestamps.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Fields {
    /// The task id the provider reports; absent means the task-id input.
    #[serde(default)]
    pub id: Option<FieldSpec>,
    #[serde(default)]
    pub created_at: Option<FieldSpec>,
    #[serde(default)]
    pub started_at: Option<FieldSpec>,
    #[serde(default)]
    pub updated_at: Option<FieldSpec>,
    #[serde(default)]
    pub completed_at: Option<FieldSpec>,
}

/// A value read from the body: a JSONPath string, or a mapping with a path and a conversion.
#[derive(Debug, Default)]
pub struct FieldSpec {
    pub span: Span,
    /// The JSONPath (relative to the payload root, or to the item in `files`/`errors`).
    pub path: Option<Text>,
    /// A fixed text instead of a path.
    pub constant: Option<Text>,
    /// A response header instead of a path.
    pub header: Option<Text>,
    /// The value of one of the task's inputs instead (the task id included).
    pub input: Option<Text>,
    /// Arithmetic over the answer (`$.done / $.total * 100`); with `path` or `header`, worked
    /// out for each selected value, which `@` names (`@.to - @.from + 1`).
    pub expr: Option<Text>,
    /// Where `path` (and the `$` of `expr`) starts: `item`, `payload` or `body`.
    pub from: Option<Spanned<Scope>>,
    /// A regular expression: each value becomes the text of its first group (or of the whole
    /// match); a value it does not match does not convert.
    pub capture: Option<Text>,
    /// The field reads its own value only when this holds (else its fallback, its default, or
    /// null).
    pub when: Option<Box<Spanned<Condition>>>,
    /// Another field read when this one reads nothing (before `default`).
    pub fallback: Option<Box<FieldSpec>>,
    /// The value's type (for `extra`; other fields have a fixed type).
    pub kind: Option<Spanned<ValueType>>,
    /// How a timestamp is written, or several ways tried in order: `rfc3339` (default),
    /// `epoch_seconds`, `epoch_millis`, or a strftime pattern such as `%Y-%m-%d %H:%M:%S`.
    /// For a duration: `seconds` (default) or `millis`, how a bare number counts.
    pub format: Option<TextList>,
    /// The time zone of timestamps written without an offset (an IANA name such as
    /// `Asia/Shanghai`, or a fixed offset such as `+08:00`); UTC when absent.
    pub zone: Option<Text>,
    /// Join every selected value (array items included) into one string with this separator.
    pub join: Option<Text>,
    /// Split a string into a list of its non-empty, trimmed parts (`extra` only).
    pub split: Option<Text>,
    /// Combine every selected value: `sum` adds numbers, `count` counts nodes.
    pub aggregate: Option<Spanned<Aggregate>>,
    /// Provider value (as text) → the value to read instead, e.g. `3: INVALID_ARGUMENT`.
    pub map: OrderedMap<Spanned<AnyValue>>,
    /// Values that mean "no value", read as null (e.g. `-1`, `""`).
    pub null_values: Vec<Spanned<AnyValue>>,
    /// The value when the provider leaves the field out or sends null (e.g. `0`, `false`).
    pub default: Option<Spanned<AnyValue>>,
}

/// The written form of a [`FieldSpec`] mapping.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
struct FieldSpecMap {
    /// The JSONPath.
    #[serde(default)]
    path: Option<Text>,
    /// A fixed text instead of a path.
    #[serde(default, rename = "const")]
    constant: Option<Text>,
    /// A response header instead of a path (names compare case-insensitively).
    #[serde(default)]
    header: Option<Text>,
    /// The value of one of the task's inputs instead (the task id included): to carry it to a
    /// follow-up (`next`).
    #[serde(default)]
    input: Option<Text>,
    /// Arithmetic: numbers, `+ - * /`, parentheses, JSONPaths (`$.done`), `header("Name")`,
    /// and `@`, each value `path` or `header` selected.
    #[serde(default)]
    expr: Option<Text>,
    /// Where `path` starts: `item` (in `files` and `errors`), `payload` (the envelope's root,
    /// or the body) or `body` (the whole body).
    #[serde(default)]
    from: Option<Spanned<Scope>>,
    /// A regular expression applied to each value's text: the value becomes its first group
    /// (or the whole match), e.g. `'#(.+)$'` or `'bytes=\d+-(\d+)'`.
    #[serde(default)]
    capture: Option<Text>,
    /// Read the field's own value only when this holds; otherwise its fallback, its default,
    /// or null.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Condition>"))]
    when: Option<Box<Spanned<Condition>>>,
    /// Another field, read when this one reads nothing (before `default`): `Range` on a 308,
    /// else the object's `size`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<FieldSpec>"))]
    fallback: Option<Box<FieldSpec>>,
    /// The value's type: string, integer, number, boolean, timestamp, duration (in seconds) or
    /// json (default).
    #[serde(default, rename = "type")]
    kind: Option<Spanned<ValueType>>,
    /// Timestamp format (`rfc3339`, `epoch_seconds`, `epoch_millis`, a strftime pattern) or a
    /// list of them tried in order; for a duration, `seconds` or `millis`.
    #[serde(default)]
    format: Option<TextList>,
    /// The zone of timestamps written without an offset: `Asia/Shanghai`, `+08:00`.
    #[serde(default)]
    zone: Option<Text>,
    /// Join the selected values into one string with this separator.
    #[serde(default)]
    join: Option<Text>,
    /// Split a string into a list of its parts at this separator (`extra` only).
    #[serde(default)]
    split: Option<Text>,
    /// `sum` or `count` over the selected values.
    #[serde(default)]
    aggregate: Option<Spanned<Aggregate>>,
    /// Provider value (as text) → the value to read instead.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    map: OrderedMap<Spanned<AnyValue>>,
    /// Values read as null.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<serde_json::Value>>"))]
    null_values: Vec<Spanned<AnyValue>>,
    /// The value when the field is absent or null.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<serde_json::Value>"))]
    default: Option<Spanned<AnyValue>>,
}

/// One text, or a list of texts, with the span of the whole value.
#[derive(Debug, Default)]
pub struct TextList {
    pub span: Span,
    pub items: Vec<Text>,
}

impl<'de> Deserialize<'de> for TextList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<TextOrList>::deserialize(deserializer)?;
        let items = match spanned.value {
            TextOrList::One(text) => vec![Spanned::new(spanned.span, text)],
            TextOrList::List(items) => items,
        };
        Ok(TextList {
            span: spanned.span,
            items,
        })
    }
}

enum TextOrList {
    One(String),
    List(Vec<Text>),
}

impl<'de> Deserialize<'de> for TextOrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;

        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = TextOrList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TextOrList::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::<Text>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(TextOrList::List)
            }
        }
        deserializer.deserialize_any(ShapeVisitor)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for TextList {
    fn schema_name() -> Cow<'static, str> {
        "TextList".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "One string, or a list of strings tried in order.",
            "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }]
        })
    }
}

/// A typed value's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    String,
    Integer,
    Number,
    Boolean,
    Timestamp,
    /// A span of time, read as seconds: numbers (`format: millis` for milliseconds) or text such
    /// as `15s`, `1m30s`, `PT1M30S`.
    Duration,
    Json,
}

/// How several selected values combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Sum,
    Count,
}

impl<'de> Deserialize<'de> for FieldSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The spanned wrapper gives the node's span; the inner enum picks string or mapping.
        let spanned = Spanned::<FieldSpecOrPath>::deserialize(deserializer)?;
        Ok(match spanned.value {
            FieldSpecOrPath::Path(path) => FieldSpec {
                span: spanned.span,
                path: Some(Spanned::new(spanned.span, path)),
                ..FieldSpec::default()
            },
            FieldSpecOrPath::Map(map) => FieldSpec {
                span: spanned.span,
                path: map.path,
                constant: map.constant,
                header: map.header,
                input: map.input,
                expr: map.expr,
                from: map.from,
                capture: map.capture,
                when: map.when,
                fallback: map.fallback,
                kind: map.kind,
                format: map.format,
                zone: map.zone,
                join: map.join,
                split: map.split,
                aggregate: map.aggregate,
                map: map.map,
                null_values: map.null_values,
                default: map.default,
            },
        })
    }
}

/// A string or a mapping, told apart by the node's shape (no buffering, so spans survive).
enum FieldSpecOrPath {
    Path(String),
    Map(Box<FieldSpecMap>),
}

impl<'de> Deserialize<'de> for FieldSpecOrPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;

        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = FieldSpecOrPath;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSONPath string or a mapping with `path`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FieldSpecOrPath::Path(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                FieldSpecMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|map| FieldSpecOrPath::Map(Box::new(map)))
            }
        }
        // Asking for a struct (not `any`) lets the definition deserializer check the mapping's
        // keys against these names, so a misspelt key is reported like any other unknown key.
        const KEYS: &[&str] = &[
            "path",
            "const",
            "header",
            "input",
            "expr",
            "from",
            "capture",
            "when",
            "fallback",
            "type",
            "format",
            "zone",
            "join",
            "split",
            "aggregate",
            "map",
            "null_values",
            "default",
        ];
        deserializer.deserialize_struct("FieldSpec", KEYS, ShapeVisitor)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for FieldSpec {
    fn schema_name() -> Cow<'static, str> {
        "FieldSpec".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let map = generator.subschema_for::<FieldSpecMap>();
        json_schema!({
            "description": "A JSONPath string, or a mapping with a path and a conversion.",
            "anyOf": [{ "type": "string" }, map]
        })
    }
}

/// Progress.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProgressSpec {
    /// What `done` and `total` count.
    pub unit: Spanned<ProgressUnit>,
    /// Work done: a count, a sum (`aggregate: sum`) or a percent (numbers in strings are read).
    pub done: FieldSpec,
    /// Work in all, when known.
    #[serde(default)]
    pub total: Option<FieldSpec>,
}

/// What progress counts.
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProgressUnit {
    /// A count of items (files, rows, records).
    Items,
    /// A number of bytes.
    Bytes,
    /// A percentage: `done` out of 100.
    Percent,
}

impl ProgressUnit {
    /// The name written in definitions and in `UploadTask` JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ProgressUnit::Items => "items",
            ProgressUnit::Bytes => "bytes",
            ProgressUnit::Percent => "percent",
        }
    }
}

/// Files: every node `each` selects is an item; the other paths are relative to the item.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FilesSpec {
    /// Selects the items (an absent path yields none); `$` is the payload itself.
    pub each: Text,
    /// Where `each` starts: `payload` (default) or `body` (the whole body, envelope included).
    #[serde(default)]
    pub from: Option<Spanned<Scope>>,
    /// Keep only the items for which this holds (paths start at the item).
    #[serde(default)]
    pub when: Option<Spanned<Condition>>,
    #[serde(default)]
    pub id: Option<FieldSpec>,
    #[serde(default)]
    pub name: Option<FieldSpec>,
    #[serde(default)]
    pub url: Option<FieldSpec>,
    #[serde(default)]
    pub source_url: Option<FieldSpec>,
    #[serde(default)]
    pub path: Option<FieldSpec>,
    #[serde(default)]
    pub size: Option<FieldSpec>,
    #[serde(default)]
    pub mime: Option<FieldSpec>,
    #[serde(default)]
    pub md5: Option<FieldSpec>,
}

/// Task-level errors: every node `each` selects is one error.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorsSpec {
    /// Selects the error items; `$` is the payload itself.
    pub each: Text,
    /// Where `each` starts: `payload` (default) or `body` (the whole body, envelope included).
    #[serde(default)]
    pub from: Option<Spanned<Scope>>,
    /// Keep only the items for which this holds (paths start at the item).
    #[serde(default)]
    pub when: Option<Spanned<Condition>>,
    /// The message (required; relative to the item, `$` is the item itself).
    pub message: FieldSpec,
    #[serde(default)]
    pub code: Option<FieldSpec>,
    /// The item the error is about (a source URL, a file name).
    #[serde(default)]
    pub item: Option<FieldSpec>,
}

/// How a failed request (non-2xx, a failed envelope, or a failure inside a 200) becomes an error.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Failures {
    /// Error body shapes; the one that finds the most of its fields wins (the first among equals).
    #[serde(default)]
    pub bodies: Vec<Spanned<ErrorBody>>,
    /// Provider error code → error kind (takes precedence over the HTTP status).
    #[serde(default)]
    pub codes: OrderedMap<Text>,
    /// HTTP status → error kind, over the built-in table (401 unauthorized, 403 forbidden,
    /// 404 not_found, 408 timeout, 429 rate_limited, other 4xx invalid_request, 5xx server).
    #[serde(default)]
    pub statuses: OrderedMap<Text>,
    /// Failures reported inside a 2xx body, tested on the whole body in order.
    #[serde(default)]
    pub in_body: Vec<InBodyFailure>,
    /// HTTP statuses worth retrying (default 408, 429, 500, 502, 503, 504).
    #[serde(default)]
    pub retryable_statuses: Option<Vec<Spanned<u16>>>,
    /// Provider error codes worth retrying.
    #[serde(default)]
    pub retryable_codes: Vec<Text>,
    /// A header, besides `Retry-After`, that says how many seconds to wait.
    #[serde(default)]
    pub retry_after_header: Option<Text>,
    /// How long to wait, read from the answer (a body field, a header, or `expr`): seconds, a
    /// duration (`"30s"`, `PT30S`), or with `type: timestamp` a time to wait until. Used for
    /// answers worth retrying; `Retry-After` wins when both are there.
    #[serde(default)]
    pub retry_after: Option<FieldSpec>,
}

/// How large an answer may be, and whether the task keeps it whole.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The largest body read, decompressed: a number of bytes or a size such as `16 MiB`
    /// (default 4 MiB). A larger body is refused while it streams in.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<serde_json::Value>"))]
    pub max_body_bytes: Option<Spanned<AnyValue>>,
    /// `false`: the task's `raw` is null instead of the whole body (for huge bodies).
    #[serde(default)]
    pub keep_raw: Option<Spanned<bool>>,
}

/// One error body shape.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The provider's error code.
    #[serde(default)]
    pub code: Option<FieldSpec>,
    /// The human message.
    #[serde(default)]
    pub message: Option<FieldSpec>,
    /// Details the body lists (`problems[*]`, a validation error per field): each entry maps
    /// items like `response.errors` (`each`, `message`, `code`, `item`).
    #[serde(default)]
    pub details: Vec<ErrorsSpec>,
}

/// A failure reported inside a 2xx body.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct InBodyFailure {
    /// The test, on the whole body.
    pub when: Spanned<Condition>,
    /// The error kind (a provider code found in `codes` wins).
    pub kind: Text,
}

/// A limit the provider documents on requests, e.g. 100 requests per 10 seconds.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed in each window (1 to 1,000,000).
    pub requests: Spanned<u64>,
    /// The window, e.g. `10s` or `1m`.
    pub per: Text,
    /// Requests that may go at once after a quiet spell, when the provider documents a bucket
    /// that refills at `requests` per `per`. Left out, the limit is a window: no `per` holds
    /// more than `requests` (a watch spaces its requests evenly).
    #[serde(default)]
    pub burst: Option<Spanned<u64>>,
    /// What the provider counts against the limit (default `credential`).
    #[serde(default)]
    pub scope: Option<Spanned<RateLimitScope>>,
    /// Where the provider documents the limit.
    #[serde(default)]
    pub docs: Option<String>,
}

/// What a rate limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RateLimitScope {
    /// Each set of credentials (an app, a token) has its own allowance.
    Credential,
    /// Every request to the API's host counts, whatever the credential.
    Host,
}

/// Polling hints for `watch`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Polling {
    /// The first wait between polls, e.g. `2s`.
    pub interval: Text,
    /// The longest wait while a task stays unchanged, e.g. `30s`.
    #[serde(default)]
    pub max_interval: Option<Text>,
    /// The factor the wait grows by while a task stays unchanged (≥ 1).
    #[serde(default)]
    pub backoff: Option<Spanned<f64>>,
}

/// An example response and what it must produce.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// A unique name (scenarios refer to it).
    pub name: Text,
    /// Input values; the task id defaults to `example-task`.
    #[serde(default)]
    pub inputs: OrderedMap<Text>,
    /// The time the example is read at, RFC 3339 (for `before_now` and `after_now`); absent,
    /// the real clock.
    #[serde(default)]
    pub now: Option<Text>,
    /// The response.
    pub response: ExampleResponse,
    /// The exact `UploadTask` (without `provider` and `raw`); omitted keys must be null or empty,
    /// `id` defaults to the task id and `terminal` to what the state implies.
    #[serde(default)]
    pub expect: Option<Spanned<OrderedMap<Spanned<AnyValue>>>>,
    /// The exact error instead.
    #[serde(default)]
    pub expect_error: Option<ExpectedError>,
}

/// An example HTTP response.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExampleResponse {
    /// The HTTP status (default 200).
    #[serde(default = "ok")]
    pub status: Spanned<u16>,
    /// Response headers.
    #[serde(default)]
    pub headers: OrderedMap<Text>,
    /// The JSON body, written as YAML.
    #[serde(default)]
    pub body: Option<Spanned<AnyValue>>,
    /// The body as raw text instead (for malformed or truncated bodies).
    #[serde(default)]
    pub text: Option<Text>,
}

fn ok() -> Spanned<u16> {
    Spanned::new(Span::default(), 200)
}

/// An expected error.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExpectedError {
    /// The error kind.
    pub kind: Text,
    /// The provider's error code (omitted: the error must have none).
    #[serde(default)]
    pub code: Option<Text>,
    /// The provider's message (compared when given).
    #[serde(default)]
    pub message: Option<Text>,
    /// Whether the request may be retried (default: what the kind and status imply).
    #[serde(default)]
    pub retryable: Option<Spanned<bool>>,
    /// Seconds to wait, as the response said (compared when given).
    #[serde(default)]
    pub retry_after: Option<Spanned<u64>>,
    /// The details the body lists, each `{code, message, item}` (compared when given).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<serde_json::Value>>"))]
    pub details: Option<Spanned<Vec<AnyValue>>>,
}

/// A lifecycle the sandbox plays: each poll of `task_id` serves the next example.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: Text,
    /// The task id this scenario answers for.
    pub task_id: Text,
    /// Example names, in order; the last repeats.
    pub steps: Vec<Text>,
}

/// Any JSON value, written as YAML.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct AnyValue(pub serde_json::Value);

#[cfg(feature = "schema")]
impl JsonSchema for AnyValue {
    fn schema_name() -> Cow<'static, str> {
        "AnyValue".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!(true)
    }
}

/// A mapping whose keys keep their spans and order.
#[derive(Debug)]
pub struct OrderedMap<V>(pub Vec<(Text, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    pub fn iter(&self) -> impl Iterator<Item = (&Text, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k.value == key).map(|(_, v)| v)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(OrderedMap(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

#[cfg(feature = "schema")]
impl<V: JsonSchema> JsonSchema for OrderedMap<V> {
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let value = generator.subschema_for::<V>();
        json_schema!({ "type": "object", "additionalProperties": value })
    }
}

/// The JSON Schema of the format (draft-07, for yaml-language-server), as pretty JSON.
#[cfg(feature = "schema")]
pub fn json_schema() -> String {
    let settings = schemars::generate::SchemaSettings::draft07();
    let generator = settings.into_generator();
    let schema = generator.into_root_schema_for::<Definition>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
