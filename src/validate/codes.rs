//! Every diagnostic code, with its user documentation. `unitask explain CODE` prints the doc
//! comment of the code's variant, so the docs and the tool share one source.

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $code:literal, $name:literal; )*) => {
        /// A stable diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as printed: `UT101`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// A short kebab-case name: `invalid-jsonpath`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The rule's documentation (its doc comment).
            pub fn doc(self) -> &'static str {
                match self { $(Code::$variant => concat!($($doc, "\n"),*),)* }
            }

            /// Finds a code by `UT101` or by name.
            pub fn find(text: &str) -> Option<Code> {
                Code::ALL.iter().copied().find(|c| {
                    c.as_str().eq_ignore_ascii_case(text) || c.name() == text
                })
            }
        }
    };
}

codes! {
    /// ## What it means
    /// The file is not valid YAML: the parser stopped here. Nothing else in the file can be
    /// checked until it parses.
    ///
    /// ## Common causes
    /// A tab used for indentation (YAML indents with spaces only), an unclosed `[` or `{`, a
    /// `:` inside an unquoted value.
    YamlSyntax = "UT001", "yaml-syntax";
    /// ## What it means
    /// A key the format does not know. Unknown keys are errors, not warnings: a misspelt key would
    /// otherwise be silently ignored.
    ///
    /// ## Example
    /// ```yaml
    /// request:
    ///   pth: /tasks/{task_id}   # did you mean `path`?
    /// ```
    UnknownKey = "UT002", "unknown-key";
    /// ## What it means
    /// The same key appears twice in one mapping. YAML forbids it, and most parsers silently keep
    /// one of the values.
    DuplicateKey = "UT003", "duplicate-key";
    /// ## What it means
    /// A value has the wrong type or is not one of the allowed values, or a required key is
    /// missing. The message says what was expected.
    InvalidValue = "UT004", "invalid-value";
    /// ## What it means
    /// The file is not UTF-8: the caret is under the first byte that is not. Definitions are
    /// UTF-8 text; nothing else in the file can be checked until it is.
    ///
    /// ## Common causes
    /// A file saved as Latin-1 or UTF-16 by an editor, or a byte-order mark of another encoding.
    /// Re-save the file as UTF-8.
    NotUtf8 = "UT005", "not-utf8";
    /// ## What it means
    /// A JSONPath (RFC 9535) does not parse. The caret points at the offending character.
    ///
    /// ## Example
    /// ```yaml
    /// native: { string: $.status[ }   # unexpected end
    /// ```
    /// Paths start with `$`: `$.data.status`, `$.parts[*].Size`, `$.errors[?@.code == 'x']`.
    InvalidJsonPath = "UT101", "invalid-jsonpath";
    /// ## What it means
    /// A URL template (`base_url`, `request.path`) does not parse: an unclosed `{`, an empty
    /// `{}`, or a character that cannot be in a placeholder name.
    InvalidTemplate = "UT102", "invalid-template";
    /// ## What it means
    /// A `{placeholder}` names no declared input, or names an input whose `in` is not `path`
    /// (in `request.path`) or `host` (in `base_url`).
    ///
    /// ## Why
    /// Every value that reaches the URL must be declared, so it can be checked and
    /// percent-encoded for its segment.
    UndeclaredPlaceholder = "UT103", "undeclared-placeholder";
    /// ## What it means
    /// An input with `in: path` (or `in: host`) that no template uses: its value would be
    /// silently dropped.
    UnusedInput = "UT104", "unused-input";
    /// ## What it means
    /// Exactly one input must have `role: task_id`: the one `unitask status <provider> <id>`
    /// fills.
    TaskIdRole = "UT105", "task-id-role";
    /// ## What it means
    /// A `pattern` is not a valid regular expression (Rust `regex` syntax). Patterns are anchored:
    /// the whole value must match.
    InvalidPattern = "UT106", "invalid-pattern";
    /// ## What it means
    /// An input with `in: host` has no `pattern`.
    ///
    /// ## Why
    /// A host input decides where the credential is sent. Without a pattern that pins it to the
    /// provider's own domains, any caller-supplied value could send the secret elsewhere.
    UnconstrainedHost = "UT107", "unconstrained-host";
    /// ## What it means
    /// The base URL is not an absolute `https://` URL, uses plain `http://` for a host that is
    /// not loopback (`localhost`, `127.0.0.0/8`, `::1`), or carries a user name or password.
    /// Credentials never travel unencrypted, and only `auth:` carries them: it reads them from
    /// the environment and hides them wherever the request is shown.
    InsecureBaseUrl = "UT108", "insecure-base-url";
    /// ## What it means
    /// A state name that does not exist. States are `pending`, `running`, `succeeded`,
    /// `partial`, `failed`, `canceled`, `expired` and `unknown`.
    InvalidState = "UT109", "invalid-state";
    /// ## What it means
    /// A value listed in `state.documented` is not a key of `state.map`. Every documented value
    /// must say what it means; rules only refine it (a rule's condition may not match).
    UnmappedValue = "UT110", "unmapped-value";
    /// ## What it means
    /// A key of `state.map` (or a rule's `native` value) is not in `state.documented`. Either it
    /// is a typo, or the documented list is incomplete.
    UndocumentedValue = "UT111", "undocumented-value";
    /// ## What it means
    /// A condition that can never do its job: an empty `all`, `any` or `in` list.
    InvalidCondition = "UT112", "invalid-condition";
    /// ## What it means
    /// An error kind that does not exist. Kinds are `unauthorized`, `forbidden`, `not_found`,
    /// `rate_limited`, `invalid_request`, `server`, `timeout`, `transport`, `decode` and
    /// `definition`.
    InvalidErrorKind = "UT113", "invalid-error-kind";
    /// ## What it means
    /// A timestamp `format` that is neither `rfc3339`, `epoch_seconds`, `epoch_millis` nor a valid
    /// strftime pattern (such as `%Y-%m-%d %H:%M:%S`).
    InvalidTimeFormat = "UT114", "invalid-time-format";
    /// ## What it means
    /// A field mapping that says too little or too much: neither `path` nor `const`, both, or
    /// `join` together with `aggregate`.
    InvalidField = "UT115", "invalid-field";
    /// ## What it means
    /// The `id` must be lowercase letters, digits and `-`, and equal the file name without
    /// `.yaml`: that is how `unitask status <provider>` finds it.
    IdMismatch = "UT116", "id-mismatch";
    /// ## What it means
    /// A name that cannot be used on the wire: an environment variable that is not
    /// `[A-Z_][A-Z0-9_]*`, a header or parameter name with characters HTTP does not allow, or a
    /// value with a line break.
    InvalidName = "UT117", "invalid-name";
    /// ## What it means
    /// A duration (`polling.interval`) that does not parse, such as `fast`. Write `2s`, `500ms`,
    /// `1m`. `backoff` must be at least 1.
    InvalidDuration = "UT118", "invalid-duration";
    /// ## What it means
    /// An input's `default` could not be sent (its own `pattern` refuses it, or it breaks a rule
    /// every value of its kind follows: `..` in a path, a control character in a header), or an
    /// HTTP status is not 100–599.
    InvalidDefault = "UT119", "invalid-default";
    /// ## What it means
    /// An example that cannot run: an unknown or missing input, a value that fails its pattern,
    /// both `body` and `text`, neither or both of `expect` and `expect_error`, a repeated name.
    InvalidExample = "UT120", "invalid-example";
    /// ## What it means
    /// An example's response, run through the mapping, does not produce exactly the `UploadTask`
    /// (or the error) it expects. Each differing field is reported with both values.
    ///
    /// ## Why
    /// Examples are the definition's tests: `validate` runs them, the sandbox serves them.
    ExampleMismatch = "UT121", "example-mismatch";
    /// ## What it means
    /// A scenario step names no example, or a scenario has no steps.
    InvalidScenario = "UT122", "invalid-scenario";
    /// ## What it means
    /// The request would carry the same header twice: two `request.headers` entries, a header
    /// input, or the auth scheme's header (`Authorization` for `bearer` and `basic`) name the
    /// same header, compared case-insensitively as HTTP does.
    ///
    /// ## Why
    /// The provider would receive both values, and which one it reads is up to it. A
    /// `Content-Type` in `request.headers` is not a repeat: it replaces the default
    /// `application/json` of a `POST`.
    DuplicateHeader = "UT123", "duplicate-header";
    /// ## What it means
    /// A conversion on a field mapping that cannot work: a `default` or a `map` value that does
    /// not read as the field's type, conversions on a `const`, a `default` on a count, a `zone`
    /// that is not an IANA name or an offset (or that no format without an offset uses), a
    /// duration `format` other than `seconds` or `millis`, or `split` outside `extra`.
    ///
    /// ## Example
    /// ```yaml
    /// progress:
    ///   unit: percent
    ///   done: { path: $.percent, default: none }   # a percent must be a number: `default: 0`
    /// ```
    InvalidConversion = "UT124", "invalid-conversion";
    /// ## What it means
    /// An `expr` does not parse, or is given to a field that does not hold a number.
    ///
    /// ## What an expression may hold
    /// Numbers, `+ - * /`, parentheses, JSONPaths that select one value (`$.total` from the
    /// field's scope, `@` or `@.to` from each value `path` or `header` selected) and
    /// `header("Name")`. An operand that is absent makes the field null; one that is not a
    /// number makes it null with a task warning.
    ///
    /// ## Example
    /// ```yaml
    /// progress:
    ///   unit: percent
    ///   done: { expr: "$.processed / $.total * 100" }
    ///   # bytes received, from ranges: { path: "$.parts[*]", expr: "@.to - @.from + 1", aggregate: sum }
    /// ```
    InvalidExpression = "UT125", "invalid-expression";
    /// ## What it means
    /// A `response.answers` entry is not a non-2xx HTTP status that answers about the task, or
    /// an `http_status` status documents a status that is a request error.
    ///
    /// ## Why
    /// Some APIs answer with their status code: `308` while an upload runs, `404` or `410` once
    /// the session expired. Those statuses are answers, not failures, only when the definition
    /// says so; every other non-2xx is a request error. A 2xx is always an answer.
    ///
    /// ## Example
    /// ```yaml
    /// response:
    ///   state:
    ///     native: http_status
    ///     documented: ["200", "308", "404"]
    ///     map: { 200: succeeded, 308: running, 404: expired }
    ///   answers:
    ///     - status: [308, 404]
    ///     - status: 409            # a conflict whose body says the job failed
    ///       when: { equals: { path: $.code, value: JOB_FAILED } }
    ///       state: failed
    /// ```
    InvalidAnswer = "UT126", "invalid-answer";
    /// ## What it means
    /// `limits.max_body_bytes` is not a size from 1 byte to 1 GiB.
    ///
    /// ## Example
    /// ```yaml
    /// limits:
    ///   max_body_bytes: 16 MiB   # or 16777216; `kB`, `KiB`, `MB`, `MiB`, `GB`, `GiB`
    ///   keep_raw: false          # the task's `raw` is null: the body is read, not kept
    /// ```
    InvalidLimit = "UT127", "invalid-limit";
    /// ## What it means
    /// `request.body_template` does not parse, reads a name that is not an input, is given to a
    /// request without a body (a `GET`, a `HEAD`) or next to a fixed `body`, or does not render
    /// a JSON document.
    ///
    /// ## How a body template works
    /// It is a minijinja template whose variables are the inputs. Every value it prints is
    /// JSON-encoded, so write no quotes around it and no input can change the document's shape.
    ///
    /// ## Example
    /// ```yaml
    /// request:
    ///   method: POST
    ///   path: /graphql
    ///   body_template: |
    ///     {% set query %}query($id: ID!) { node(id: $id) { id status } }{% endset %}
    ///     {"query": {{ query|tojson }}, "variables": {"id": {{ task_id }}}}
    /// ```
    InvalidBodyTemplate = "UT128", "invalid-body-template";
    /// ## What it means
    /// `response.next` hands over in a state a task does not end in, names something that is
    /// not a definition id, or (when the definitions are checked together) names a definition
    /// that is not there, an input it does not have, or leaves out one it requires.
    ///
    /// ## Example
    /// ```yaml
    /// response:
    ///   next:
    ///     when: [succeeded]
    ///     provider: msgraph-drive-item
    ///     task_id: $.resourceId
    ///     inputs:
    ///       drive_id: { input: drive_id }   # an input of this definition, `in: next`
    /// ```
    InvalidNext = "UT129", "invalid-next";
    /// ## What it means
    /// An auth scheme is incomplete or inconsistent: an OAuth grant without the variables it
    /// needs (or with another grant's), a token URL that is not https (or http to a loopback
    /// host), a signing region or account that names no input, or a value that is not one of
    /// the scheme's choices.
    ///
    /// ## Example
    /// ```yaml
    /// auth:
    ///   oauth2:
    ///     grant: client_credentials
    ///     token_url: https://login.microsoftonline.com/{AZURE_TENANT_ID}/oauth2/v2.0/token
    ///     client_id_env: AZURE_CLIENT_ID
    ///     client_secret_env: AZURE_CLIENT_SECRET
    ///     scopes: [https://graph.microsoft.com/.default]
    /// ```
    InvalidAuth = "UT130", "invalid-auth";
    /// ## What it means
    /// `auth.any_of` lists fewer than two schemes, nests another `any_of`, or puts `none`
    /// anywhere but last (nothing after it could ever be chosen).
    ///
    /// ## Example
    /// ```yaml
    /// auth:
    ///   any_of:                      # the first whose variables are all set is used
    ///     - oauth2: { grant: jwt_bearer, key_file_env: GOOGLE_APPLICATION_CREDENTIALS,
    ///                 scopes: [https://www.googleapis.com/auth/cloud-platform] }
    ///     - bearer: { env: GOOGLE_ACCESS_TOKEN }
    /// ```
    InvalidAlternatives = "UT131", "invalid-alternatives";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code:?}");
            assert!(seen.insert(code.name()), "{code:?}");
            assert!(code.doc().contains("## What it means"), "{code:?}");
            assert_eq!(Code::find(code.as_str()), Some(*code));
            assert_eq!(Code::find(code.name()), Some(*code));
        }
    }
}
