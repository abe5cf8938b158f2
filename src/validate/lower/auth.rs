//! Auth schemes: which environment variables hold the secrets, where they go on the wire, and
//! the grants and signatures computed from them (UT130), offered alone or as alternatives
//! (UT131).

use super::Lowerer;
use crate::model;
use crate::spec::{self, Text};
use crate::validate::{Code, Diagnostic};

impl Lowerer<'_> {
    pub(super) fn lower_auth(&mut self, auth: &spec::Auth) -> Option<model::Auth> {
        Some(match auth {
            spec::Auth::None => model::Auth::None,
            spec::Auth::Bearer(source) => model::Auth::Bearer {
                env: self.env_name(&source.env)?,
            },
            spec::Auth::Header(header) => {
                let name = self.wire_name(&header.name, "header");
                let prefix = match &header.prefix {
                    Some(prefix) => self.wire_value(prefix),
                    None => Some(String::new()),
                };
                let env = self.env_name(&header.env);
                model::Auth::Header {
                    name: name?,
                    prefix: prefix?,
                    env: env?,
                }
            }
            spec::Auth::Query(query) => {
                let param = self.wire_name(&query.param, "query parameter");
                let env = self.env_name(&query.env);
                model::Auth::Query {
                    param: param?,
                    env: env?,
                }
            }
            spec::Auth::Basic(basic) => {
                let username_env = self.env_name(&basic.username_env);
                let password_env = basic.password_env.as_ref().map(|env| self.env_name(env));
                model::Auth::Basic {
                    username_env: username_env?,
                    password_env: password_env.map_or(Some(None), |env| env.map(Some))?,
                }
            }
            spec::Auth::QueryString(source) => model::Auth::QueryString {
                env: self.env_name(&source.env)?,
            },
            spec::Auth::Oauth2(oauth) => model::Auth::OAuth2(Box::new(self.lower_oauth2(oauth)?)),
            spec::Auth::AwsSigv4(aws) => {
                let service = self.signing_name(&aws.service);
                let region = match (&aws.region_input, &aws.region) {
                    (Some(input), None) => self.auth_input(input).map(model::Region::Input),
                    (None, Some(region)) => self.signing_name(region).map(model::Region::Fixed),
                    (given, _) => {
                        let span = given.as_ref().map_or(aws.service.span, |g| g.span);
                        self.push(
                            Diagnostic::new(
                                Code::InvalidAuth,
                                span,
                                "AWS signing needs exactly one of `region_input` and `region`",
                            )
                            .help("name the input that holds the region (`region_input: region`), or give a fixed `region: us-east-1`"),
                        );
                        None
                    }
                };
                let access = self.env_or(&aws.access_key_id_env, "AWS_ACCESS_KEY_ID");
                let secret = self.env_or(&aws.secret_access_key_env, "AWS_SECRET_ACCESS_KEY");
                let session = self.env_or(&aws.session_token_env, "AWS_SESSION_TOKEN");
                model::Auth::Sign(Box::new(model::Signing::AwsSigV4 {
                    service: service?,
                    region: region?,
                    content_sha256: aws.content_sha256,
                    access_key_id_env: access?,
                    secret_access_key_env: secret?,
                    session_token_env: session?,
                }))
            }
            spec::Auth::Acs3HmacSha256(acs) => {
                let access = self.env_or(&acs.access_key_id_env, "ALIBABA_CLOUD_ACCESS_KEY_ID");
                let secret = self.env_or(
                    &acs.access_key_secret_env,
                    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                );
                let token = self.env_or(&acs.security_token_env, "ALIBABA_CLOUD_SECURITY_TOKEN");
                model::Auth::Sign(Box::new(model::Signing::Acs3 {
                    access_key_id_env: access?,
                    access_key_secret_env: secret?,
                    security_token_env: token?,
                }))
            }
            spec::Auth::AzureSharedKey(azure) => {
                let account = self.auth_input(&azure.account_input);
                let key = self.env_or(&azure.key_env, "AZURE_STORAGE_KEY");
                model::Auth::Sign(Box::new(model::Signing::AzureSharedKey {
                    account_input: account?,
                    key_env: key?,
                }))
            }
            spec::Auth::AnyOf(alternatives) => {
                let mut lowered = Vec::new();
                let mut complete = true;
                if alternatives.len() < 2 {
                    let span = alternatives.first().map(|a| a.span);
                    self.push(
                        Diagnostic::new(
                            Code::InvalidAlternatives,
                            span.unwrap_or_default(),
                            "`any_of` needs at least two schemes",
                        )
                        .help("write the one scheme directly under `auth`"),
                    );
                    complete = false;
                }
                for (i, alternative) in alternatives.iter().enumerate() {
                    let problem = match &alternative.value {
                        spec::Auth::AnyOf(_) => {
                            Some("an `any_of` inside `any_of`: list every scheme in one list")
                        }
                        spec::Auth::None if i + 1 < alternatives.len() => Some(
                            "`none` before other schemes: they could never be chosen, put it last",
                        ),
                        _ => None,
                    };
                    if let Some(problem) = problem {
                        self.push(
                            Diagnostic::new(Code::InvalidAlternatives, alternative.span, problem)
                                .label("here"),
                        );
                        complete = false;
                        continue;
                    }
                    match self.lower_auth(&alternative.value) {
                        Some(auth) => lowered.push(auth),
                        None => complete = false,
                    }
                }
                if !complete {
                    return None;
                }
                model::Auth::AnyOf(lowered)
            }
        })
    }

    fn lower_oauth2(&mut self, oauth: &spec::OAuth2Auth) -> Option<model::OAuth2> {
        let env = |l: &mut Self, field: &Option<Text>| field.as_ref().map(|t| l.env_name(t));
        let client_id = env(self, &oauth.client_id_env);
        let client_secret = env(self, &oauth.client_secret_env);
        let refresh_token = env(self, &oauth.refresh_token_env);
        let key_file = env(self, &oauth.key_file_env);
        let issuer = env(self, &oauth.issuer_env);
        let private_key = env(self, &oauth.private_key_env);
        let key_id = env(self, &oauth.key_id_env);
        let subject = env(self, &oauth.subject_env);
        // Every field a grant does not read is refused: a misplaced variable would otherwise be
        // silently ignored while the author believes it is used.
        let fields: [(&str, &Option<Text>); 8] = [
            ("client_id_env", &oauth.client_id_env),
            ("client_secret_env", &oauth.client_secret_env),
            ("refresh_token_env", &oauth.refresh_token_env),
            ("key_file_env", &oauth.key_file_env),
            ("issuer_env", &oauth.issuer_env),
            ("private_key_env", &oauth.private_key_env),
            ("key_id_env", &oauth.key_id_env),
            ("subject_env", &oauth.subject_env),
        ];
        let (reads, needs): (&[&str], &[&str]) = match oauth.grant.value.as_str() {
            "client_credentials" => (
                &["client_id_env", "client_secret_env"],
                &["client_id_env", "client_secret_env"],
            ),
            "refresh_token" => (
                &["client_id_env", "client_secret_env", "refresh_token_env"],
                &["client_id_env", "refresh_token_env"],
            ),
            "jwt_bearer" if oauth.key_file_env.is_some() => (&["key_file_env"], &["key_file_env"]),
            "jwt_bearer" => (
                &["issuer_env", "private_key_env", "key_id_env", "subject_env"],
                &["issuer_env", "private_key_env"],
            ),
            other => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidAuth,
                        oauth.grant.span,
                        format!("`{other}` is not a grant unitask can use"),
                    )
                    .label("expected `client_credentials`, `refresh_token` or `jwt_bearer`"),
                );
                return None;
            }
        };
        let grant_name = oauth.grant.value.as_str();
        let mut complete = true;
        for (name, field) in fields {
            if let Some(text) = field
                && !reads.contains(&name)
            {
                self.push(
                    Diagnostic::new(
                        Code::InvalidAuth,
                        text.span,
                        format!("the `{grant_name}` grant does not read `{name}`"),
                    )
                    .label("never used")
                    .help(format!("this grant reads {}", reads.join(", "))),
                );
                complete = false;
            } else if field.is_none() && needs.contains(&name) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidAuth,
                        oauth.grant.span,
                        format!("the `{grant_name}` grant needs `{name}`"),
                    )
                    .help(format!(
                        "name the environment variable that holds it, e.g. `{name}: MY_{}`",
                        name.trim_end_matches("_env").to_ascii_uppercase()
                    )),
                );
                complete = false;
            }
        }
        let client_auth = match oauth.client_auth.as_ref().map(|t| (t, t.value.as_str())) {
            None | Some((_, "basic")) => Some(model::ClientAuth::Basic),
            Some((_, "body")) => Some(model::ClientAuth::Body),
            Some((text, other)) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidAuth,
                        text.span,
                        format!("`{other}` is not a client authentication method"),
                    )
                    .label("expected `basic` or `body`"),
                );
                None
            }
        };
        let token_url = match &oauth.token_url {
            Some(text) => self.token_url(text).map(Some),
            None if oauth.key_file_env.is_some() => Some(None),
            None => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidAuth,
                        oauth.grant.span,
                        "an OAuth grant needs `token_url`",
                    )
                    .help("only a key file can give the token URL itself (its `token_uri`)"),
                );
                None
            }
        };
        let scopes: Option<Vec<String>> = oauth
            .scopes
            .iter()
            .map(|s| self.oauth_value(s))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        let audience = oauth.audience.as_ref().map(|a| self.oauth_value(a));
        if !complete {
            return None;
        }
        let flat = |v: Option<Option<String>>| v.flatten();
        let grant = match grant_name {
            "client_credentials" => model::Grant::ClientCredentials {
                client_id_env: flat(client_id)?,
                client_secret_env: flat(client_secret)?,
            },
            "refresh_token" => model::Grant::RefreshToken {
                client_id_env: flat(client_id)?,
                client_secret_env: lift(client_secret)?,
                refresh_token_env: flat(refresh_token)?,
            },
            _ if key_file.is_some() => model::Grant::JwtBearer(model::JwtKey::KeyFile {
                env: flat(key_file)?,
            }),
            _ => model::Grant::JwtBearer(model::JwtKey::Pem {
                issuer_env: flat(issuer)?,
                private_key_env: flat(private_key)?,
                key_id_env: lift(key_id)?,
                subject_env: lift(subject)?,
            }),
        };
        Some(model::OAuth2 {
            grant,
            token_url: token_url?,
            scopes: scopes?,
            audience: audience.map_or(Some(None), |a| a.map(Some))?,
            client_auth: client_auth?,
        })
    }

    /// A token endpoint: a template of environment variables, https or loopback http.
    fn token_url(&mut self, text: &Text) -> Option<crate::syntax::template::Template> {
        let template = self.template(text)?;
        let mut ok = true;
        for (name, offset) in template.placeholders() {
            let is_env = name
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_uppercase() || c == '_' || (i > 0 && c.is_ascii_digit()));
            if !is_env {
                let span = self.inner_span(text, offset);
                self.push(
                    Diagnostic::new(
                        Code::InvalidAuth,
                        span,
                        format!("`{{{name}}}` in a token URL must name an environment variable"),
                    )
                    .label("expected `[A-Z_][A-Z0-9_]*`")
                    .help("a token URL is filled from the environment, e.g. `{AZURE_TENANT_ID}`"),
                );
                ok = false;
            }
        }
        // Placeholders stand for path segments: fill them to see the scheme and host.
        let sample = template.render(|_| "x".to_owned());
        match url::Url::parse(&sample) {
            Ok(url)
                if url.scheme() == "https"
                    || (url.scheme() == "http" && crate::syntax::url::is_loopback(&url)) => {}
            Ok(_) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidAuth,
                        text.span,
                        "a token URL must be https (or http to a loopback host)",
                    )
                    .label("a client secret would travel unencrypted"),
                );
                ok = false;
            }
            Err(e) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidAuth,
                        text.span,
                        format!("`{}` is not a URL: {e}", text.value),
                    )
                    .help("write the token endpoint in full, e.g. `https://oauth2.googleapis.com/token`"),
                );
                ok = false;
            }
        }
        ok.then_some(template)
    }

    /// A scope or audience: sent in a form body, so anything but a line break.
    fn oauth_value(&mut self, text: &Text) -> Option<String> {
        if text.value.is_empty() || text.value.contains(['\r', '\n', ' ']) {
            self.push(
                Diagnostic::new(
                    Code::InvalidAuth,
                    text.span,
                    "a scope or audience is one non-empty word",
                )
                .help("list several scopes as items of `scopes`; they are sent space-separated"),
            );
            return None;
        }
        Some(text.value.clone())
    }

    /// A signing service or region name: lower-case letters, digits and `-`.
    fn signing_name(&mut self, text: &Text) -> Option<String> {
        let valid = !text.value.is_empty()
            && text
                .value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            self.push(
                Diagnostic::new(
                    Code::InvalidAuth,
                    text.span,
                    format!("`{}` is not a signing name", text.value),
                )
                .label("lower-case letters, digits and `-` only, e.g. `mediaconvert`, `us-east-1`"),
            );
            return None;
        }
        Some(text.value.clone())
    }

    /// An input a signature reads (a region, an account).
    fn auth_input(&mut self, text: &Text) -> Option<String> {
        if self.input_names.contains(&text.value) {
            return Some(text.value.clone());
        }
        let names = self.input_names.join(", ");
        self.push(
            Diagnostic::new(
                Code::InvalidAuth,
                text.span,
                format!("`{}` is not an input of this definition", text.value),
            )
            .label("no such input")
            .help(format!("inputs: {names}")),
        );
        None
    }

    /// A variable the definition names, or the scheme's standard one.
    fn env_or(&mut self, given: &Option<Text>, standard: &str) -> Option<String> {
        match given {
            Some(text) => self.env_name(text),
            None => Some(standard.to_owned()),
        }
    }
}

/// An optional field whose lowering may have failed: `Some(None)` when absent.
fn lift(value: Option<Option<String>>) -> Option<Option<String>> {
    match value {
        None => Some(None),
        Some(lowered) => lowered.map(Some),
    }
}
