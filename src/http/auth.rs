//! Choosing and applying a credential. Of a definition's alternatives, the first whose
//! variables are all set is used (none set: one error naming every variable that would do).
//! Static schemes are placed on the request here; a token or a signature is resolved into a
//! [`PerAttempt`] that the transport completes for each attempt (a fresh date and nonce, a token
//! from the cache).

use std::collections::HashMap;

use base64::Engine as _;
use secrecy::SecretString;

use crate::http::oauth::{Material, TokenSource};
use crate::http::request::{COMPONENT, Credentials};
use crate::http::sign::Signer;
use crate::model::{Auth, Grant, JwtKey, OAuth2, Region, Signing};
use crate::runtime::{Error, ErrorKind};

/// What the transport does for each attempt.
#[derive(Debug, Clone)]
pub enum PerAttempt {
    /// `Authorization: Bearer` with a token from the client's cache.
    Token(Box<TokenSource>),
    /// Headers computed from the request as sent.
    Sign(Signer),
}

impl PerAttempt {
    /// The secrets it holds, for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            PerAttempt::Token(source) => source.secrets(),
            PerAttempt::Sign(signer) => signer.secrets(),
        }
    }
}

/// What applying a scheme put on the request.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// The last header is the credential.
    pub secret_header: bool,
    /// Query parameters that carry the credential.
    pub secret_query: Vec<String>,
    pub per_attempt: Option<PerAttempt>,
}

/// The scheme to use: `auth` itself, or the first alternative whose variables are all set.
pub fn choose<'a>(auth: &'a Auth, credentials: &Credentials) -> Result<&'a Auth, Error> {
    let Auth::AnyOf(alternatives) = auth else {
        return Ok(auth);
    };
    let present = |a: &Auth| {
        a.required_env()
            .iter()
            .all(|name| credentials.value(name).is_some_and(|v| !v.is_empty()))
    };
    if let Some(chosen) = alternatives.iter().find(|a| present(a)) {
        return Ok(chosen);
    }
    let options: Vec<String> = alternatives
        .iter()
        .map(|a| format!("{} ({})", a.required_env().join(" and "), a.name()))
        .collect();
    Err(Error::local(
        ErrorKind::Unauthorized,
        format!("no credential: set {}", options.join(", or ")),
    ))
}

/// Places a static credential on `headers` / `query`, or resolves the per-attempt one.
/// `values` are the request's input values (a signing region or account).
pub(crate) fn apply(
    auth: &Auth,
    credentials: &Credentials,
    values: &HashMap<&str, String>,
    headers: &mut Vec<(String, String)>,
    query: &mut Vec<String>,
) -> Result<Applied, Error> {
    let mut applied = Applied::default();
    let secret = |name: &str| credentials.require(name);
    match choose(auth, credentials)? {
        Auth::None => {}
        Auth::AnyOf(_) => unreachable!("`choose` returns one scheme"),
        Auth::Bearer { env } => {
            headers.push(("Authorization".into(), format!("Bearer {}", secret(env)?)));
            applied.secret_header = true;
        }
        Auth::Header { name, prefix, env } => {
            headers.push((name.clone(), format!("{prefix}{}", secret(env)?)));
            applied.secret_header = true;
        }
        Auth::Query { param, env } => {
            query.push(format!("{}={}", encode(param), encode(secret(env)?)));
            applied.secret_query.push(param.clone());
        }
        Auth::QueryString { env } => {
            let given = secret(env)?.trim().trim_start_matches('?');
            for part in given.split('&').filter(|p| !p.is_empty()) {
                let name = part.split_once('=').map_or(part, |(n, _)| n);
                applied.secret_query.push(name.to_owned());
                query.push(part.to_owned());
            }
        }
        Auth::Basic {
            username_env,
            password_env,
        } => {
            let password = match password_env {
                Some(env) => secret(env)?,
                None => "",
            };
            let pair = format!("{}:{password}", secret(username_env)?);
            let token = base64::engine::general_purpose::STANDARD.encode(pair);
            headers.push(("Authorization".into(), format!("Basic {token}")));
            applied.secret_header = true;
        }
        Auth::OAuth2(oauth) => {
            applied.per_attempt = Some(PerAttempt::Token(Box::new(token_source(
                oauth,
                credentials,
            )?)));
        }
        Auth::Sign(signing) => {
            applied.per_attempt = Some(PerAttempt::Sign(signer(signing, credentials, values)?));
        }
    }
    Ok(applied)
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, COMPONENT).to_string()
}

fn owned(credentials: &Credentials, name: &str) -> Result<SecretString, Error> {
    credentials
        .require(name)
        .map(|v| SecretString::from(v.to_owned()))
}

fn optional(credentials: &Credentials, name: &str) -> Option<SecretString> {
    credentials
        .value(name)
        .filter(|v| !v.is_empty())
        .map(|v| SecretString::from(v.to_owned()))
}

fn token_source(oauth: &OAuth2, credentials: &Credentials) -> Result<TokenSource, Error> {
    let token_url = match &oauth.token_url {
        Some(template) => {
            let mut missing = None;
            let rendered = template.render(|name| match credentials.value(name) {
                Some(value) => encode(value),
                None => {
                    missing.get_or_insert_with(|| name.to_owned());
                    String::new()
                }
            });
            if let Some(name) = missing {
                return Err(credentials.require(&name).err().unwrap_or_else(|| {
                    Error::local(ErrorKind::Unauthorized, format!("set {name}"))
                }));
            }
            Some(url::Url::parse(&rendered).map_err(|e| {
                Error::local(
                    ErrorKind::Definition,
                    format!("the token URL is not valid once filled: {e}"),
                )
            })?)
        }
        None => None,
    };
    let material = match &oauth.grant {
        Grant::ClientCredentials {
            client_id_env,
            client_secret_env,
        } => Material::Client {
            id: credentials.require(client_id_env)?.to_owned(),
            secret: owned(credentials, client_secret_env)?,
        },
        Grant::RefreshToken {
            client_id_env,
            client_secret_env,
            refresh_token_env,
        } => Material::Refresh {
            client_id: credentials.require(client_id_env)?.to_owned(),
            client_secret: client_secret_env
                .as_deref()
                .map(|env| owned(credentials, env))
                .transpose()?,
            refresh_token: owned(credentials, refresh_token_env)?,
        },
        Grant::JwtBearer(JwtKey::KeyFile { env }) => Material::KeyFile {
            path: credentials.require(env)?.to_owned(),
        },
        Grant::JwtBearer(JwtKey::Pem {
            issuer_env,
            private_key_env,
            key_id_env,
            subject_env,
        }) => Material::Pem {
            issuer: credentials.require(issuer_env)?.to_owned(),
            key: owned(credentials, private_key_env)?,
            key_id: key_id_env
                .as_deref()
                .map(|env| credentials.require(env).map(str::to_owned))
                .transpose()?,
            subject: subject_env
                .as_deref()
                .map(|env| credentials.require(env).map(str::to_owned))
                .transpose()?,
        },
    };
    Ok(TokenSource {
        grant: oauth.grant.name(),
        material,
        token_url,
        redirect: credentials.token_endpoint().cloned(),
        scopes: oauth.scopes.clone(),
        audience: oauth.audience.clone(),
        client_auth: oauth.client_auth,
    })
}

fn signer(
    signing: &Signing,
    credentials: &Credentials,
    values: &HashMap<&str, String>,
) -> Result<Signer, Error> {
    let input = |name: &str| {
        values.get(name).cloned().ok_or_else(|| {
            Error::local(
                ErrorKind::InvalidRequest,
                format!("input `{name}` is required to sign the request"),
            )
        })
    };
    Ok(match signing {
        Signing::AwsSigV4 {
            service,
            region,
            content_sha256,
            access_key_id_env,
            secret_access_key_env,
            session_token_env,
        } => Signer::AwsSigV4 {
            service: service.clone(),
            region: match region {
                Region::Input(name) => input(name)?,
                Region::Fixed(region) => region.clone(),
            },
            content_sha256: *content_sha256,
            access_key_id: credentials.require(access_key_id_env)?.to_owned(),
            secret_access_key: owned(credentials, secret_access_key_env)?,
            session_token: optional(credentials, session_token_env),
        },
        Signing::Acs3 {
            access_key_id_env,
            access_key_secret_env,
            security_token_env,
        } => Signer::Acs3 {
            access_key_id: credentials.require(access_key_id_env)?.to_owned(),
            access_key_secret: owned(credentials, access_key_secret_env)?,
            security_token: optional(credentials, security_token_env),
        },
        Signing::AzureSharedKey {
            account_input,
            key_env,
        } => Signer::AzureSharedKey {
            account: input(account_input)?,
            key: owned(credentials, key_env)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alternatives() -> Auth {
        Auth::AnyOf(vec![
            Auth::Basic {
                username_env: "APP_USER".into(),
                password_env: Some("APP_PASSWORD".into()),
            },
            Auth::Bearer {
                env: "APP_TOKEN".into(),
            },
        ])
    }

    #[test]
    fn the_first_alternative_with_every_variable_set_is_used() {
        let auth = alternatives();
        let mut credentials = Credentials::new();
        credentials.set("APP_USER", "u").set("APP_TOKEN", "t");
        assert_eq!(choose(&auth, &credentials).expect("valid").name(), "bearer");
        credentials.set("APP_PASSWORD", "p");
        assert_eq!(choose(&auth, &credentials).expect("valid").name(), "basic");
    }

    #[test]
    fn with_none_set_the_error_names_every_variable_that_would_do() {
        let error = choose(&alternatives(), &Credentials::new()).expect_err("an error");
        assert_eq!(error.kind, ErrorKind::Unauthorized);
        assert_eq!(
            error.message,
            "no credential: set APP_USER and APP_PASSWORD (basic), or APP_TOKEN (bearer)"
        );
    }

    #[test]
    fn a_query_string_credential_is_sent_as_given_and_marked_secret() {
        let mut credentials = Credentials::new();
        credentials.set("SAS", "?sv=2021-08-06&sr=b&sig=abc%2Bdef%3D");
        let (mut headers, mut query) = (Vec::new(), Vec::new());
        let applied = apply(
            &Auth::QueryString { env: "SAS".into() },
            &credentials,
            &HashMap::new(),
            &mut headers,
            &mut query,
        )
        .expect("valid");
        assert_eq!(query, ["sv=2021-08-06", "sr=b", "sig=abc%2Bdef%3D"]);
        assert_eq!(applied.secret_query, ["sv", "sr", "sig"]);
    }
}
