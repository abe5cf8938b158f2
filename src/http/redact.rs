//! Hiding secrets in text: every form a credential takes on the wire (as given, percent-encoded
//! the way the request encodes it, inside `Authorization` values, base64 for basic auth).
//!
//! The transport redacts the errors it returns (a provider may echo the credential back in an
//! error body), and the CLI redacts everything it prints and logs.

use base64::Engine as _;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::http::request::{COMPONENT, Credentials};
use crate::model::Auth;

/// What replaces a secret.
pub const MASK: &str = "***";

/// The forms of a set of secrets, longest first.
#[derive(Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("forms", &self.needles.len())
            .finish()
    }
}

impl Redactor {
    /// Hides the secrets `auth` reads from `credentials`.
    pub fn new(auth: &Auth, credentials: &Credentials) -> Redactor {
        let mut needles = Vec::new();
        for secret in credentials.values().filter(|s| !s.is_empty()) {
            needles.push(secret.to_owned());
            needles.push(utf8_percent_encode(secret, COMPONENT).to_string());
            needles.push(utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string());
            needles.push(form_urlencoded(secret));
            // As it appears inside a JSON string (quotes and backslashes escaped).
            let json = serde_json::to_string(secret).unwrap_or_default();
            needles.push(json[1..json.len().saturating_sub(1).max(1)].to_owned());
        }
        let alternatives = match auth {
            Auth::AnyOf(list) => list.iter().collect(),
            one => vec![one],
        };
        for auth in alternatives {
            if let Auth::Basic {
                username_env,
                password_env,
            } = auth
            {
                let user = credentials.value(username_env).unwrap_or_default();
                let password = password_env
                    .as_deref()
                    .and_then(|env| credentials.value(env))
                    .unwrap_or_default();
                needles.push(
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")),
                );
            }
            // A SAS token's signature alone may be echoed back.
            if let Auth::QueryString { env } = auth
                && let Some(given) = credentials.value(env)
            {
                for (name, value) in
                    url::form_urlencoded::parse(given.trim_start_matches('?').as_bytes())
                {
                    if name == "sig" || name.eq_ignore_ascii_case("signature") {
                        needles.push(utf8_percent_encode(&value, NON_ALPHANUMERIC).to_string());
                        needles.push(value.into_owned());
                    }
                }
            }
        }
        let mut redactor = Redactor { needles };
        redactor.tidy();
        redactor
    }

    /// Also hides `secrets` (a fetched token, a signing key), in every form above.
    pub fn add_secrets<'a>(&mut self, secrets: impl IntoIterator<Item = &'a str>) {
        for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
            self.needles.push(secret.to_owned());
            self.needles
                .push(utf8_percent_encode(secret, COMPONENT).to_string());
            self.needles.push(form_urlencoded(secret));
            let json = serde_json::to_string(secret).unwrap_or_default();
            self.needles
                .push(json[1..json.len().saturating_sub(1).max(1)].to_owned());
        }
        self.tidy();
    }

    fn tidy(&mut self) {
        self.needles.retain(|n| n.len() >= 3);
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        self.needles.dedup();
    }

    /// `text` with every form of every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
    }

    /// Also hides what `other` hides (for output that mixes several providers).
    pub fn extend(&mut self, other: &Redactor) {
        self.needles.extend(other.needles.iter().cloned());
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        self.needles.dedup();
    }

    /// Whether there is anything to hide.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Redacts the text fields of an error in place.
    pub fn redact_error(&self, error: &mut crate::runtime::Error) {
        if self.is_empty() {
            return;
        }
        error.message = self.redact(&error.message);
        error.code = error.code.as_deref().map(|c| self.redact(c));
        error.excerpt = error.excerpt.as_deref().map(|e| self.redact_excerpt(e));
    }

    /// Redacts every text of a task in place: what it read (status, files, errors, extra,
    /// warnings, follow-up) and the raw body it keeps.
    pub fn redact_task(&self, task: &mut crate::task::UploadTask) {
        if self.is_empty() {
            return;
        }
        let text = |s: &mut String| self.redact_in_place(s);
        let optional = |s: &mut Option<String>| {
            if let Some(s) = s {
                text(s);
            }
        };
        text(&mut task.id);
        text(&mut task.native_status);
        optional(&mut task.native_label);
        for file in &mut task.files {
            for field in [
                &mut file.id,
                &mut file.name,
                &mut file.url,
                &mut file.source_url,
                &mut file.path,
                &mut file.mime,
                &mut file.md5,
            ] {
                optional(field);
            }
        }
        for error in &mut task.errors {
            optional(&mut error.code);
            text(&mut error.message);
            optional(&mut error.item);
        }
        for warning in &mut task.warnings {
            text(&mut warning.message);
        }
        for value in task.extra.values_mut() {
            self.redact_value(value);
        }
        if let Some(next) = &mut task.next {
            text(&mut next.task_id);
            next.inputs.values_mut().for_each(text);
        }
        self.redact_value(&mut task.raw);
    }

    /// Redacts `text` in place, leaving it untouched (no copy) when it holds no secret.
    fn redact_in_place(&self, text: &mut String) {
        if self.needles.iter().any(|n| text.contains(n.as_str())) {
            *text = self.redact(text);
        }
    }

    /// Redacts every string of a JSON value in place.
    fn redact_value(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => self.redact_in_place(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.redact_value(v)),
            _ => {}
        }
    }

    /// An excerpt is cut before it is redacted, so one that was cut short (it ends in `…`) may
    /// end inside a secret: that part of the secret is hidden too.
    fn redact_excerpt(&self, excerpt: &str) -> String {
        let redacted = self.redact(excerpt);
        let Some(kept) = redacted.strip_suffix('…') else {
            return redacted;
        };
        let partial = self
            .needles
            .iter()
            .filter_map(|needle| {
                (3..needle.len())
                    .rev()
                    .find(|&k| needle.is_char_boundary(k) && kept.ends_with(&needle[..k]))
            })
            .max();
        match partial {
            Some(len) => format!("{}{MASK}…", &kept[..kept.len() - len]),
            None => redacted,
        }
    }
}

/// `application/x-www-form-urlencoded` (spaces as `+`), as servers often echo query values.
fn form_urlencoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_every_wire_form() {
        let mut credentials = Credentials::new();
        credentials.set("U", "tok-SECRET+x y").set("P", "pw/1");
        let auth = Auth::Basic {
            username_env: "U".into(),
            password_env: Some("P".into()),
        };
        let redactor = Redactor::new(&auth, &credentials);
        let basic = base64::engine::general_purpose::STANDARD.encode("tok-SECRET+x y:pw/1");
        for text in [
            "tok-SECRET+x y",
            "access_token=tok-SECRET%2Bx%20y&z",
            "tok%2DSECRET%2Bx%20y",
            "tok-SECRET%2Bx+y",
            &format!("Basic {basic}"),
            "pw%2F1",
        ] {
            let hidden = redactor.redact(text);
            assert!(
                !hidden.contains("SECRET") && !hidden.contains(&basic) && !hidden.contains("pw"),
                "{text} -> {hidden}"
            );
        }
    }

    #[test]
    fn an_excerpt_cut_inside_a_secret_hides_the_part_it_kept() {
        let mut credentials = Credentials::new();
        credentials.set("T", "tok-SECRET-123");
        let redactor = Redactor::new(&Auth::None, &credentials);
        let body = format!("{}\"token\": \"tok-SECRET-123\"", "x".repeat(185));
        let mut error = crate::runtime::Error::decode(200, "not a task", body.as_bytes());
        let cut = error.excerpt.clone().unwrap_or_default();
        assert!(cut.contains("tok-S") && cut.ends_with('…'), "{cut}");
        redactor.redact_error(&mut error);
        let hidden = error.excerpt.unwrap_or_default();
        assert!(hidden.ends_with("\"token\": \"***…"), "{hidden}");
        // An excerpt that was not cut keeps a trailing word that merely starts like a secret.
        let mut whole = crate::runtime::Error::decode(200, "not a task", b"{\"a\": \"tok\"}");
        redactor.redact_error(&mut whole);
        assert_eq!(whole.excerpt.as_deref(), Some("{\"a\": \"tok\"}"));
    }
}
