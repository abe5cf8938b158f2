//! The sandbox's HTTP side: one axum fallback handler that routes `/<provider id>/<path>` to a
//! definition, checks the request the way the definition describes it (method, path template,
//! query flags, inputs, credential: see [`super::auth`]), and answers the next step of the
//! requested task; `POST /_oauth/<provider id>/token` is that provider's token endpoint.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode};
use axum::response::Response;
use percent_encoding::percent_decode_str;

use crate::model::{Auth, Provider};
use crate::sandbox::Sandbox;
use crate::sandbox::plan::{Body, Ids, ProviderPlan, Reply, TrackKind};
use crate::spec::{InputLocation, Method};
use crate::syntax::template::Part;

/// Token endpoints live under `/_oauth/<provider id>/token` (no provider id starts with `_`).
pub(crate) const TOKEN_PREFIX: &str = "_oauth";

/// At most this many distinct task ids are tracked; past it the sandbox answers 503.
pub(crate) const MAX_TRACKED_TASKS: usize = 1_000_000;
/// Fresh ids `GET /` lists per track, unless `?ids=N` asks for more (at most `MAX_LISTED_IDS`).
const LISTED_IDS: usize = 3;
const MAX_LISTED_IDS: usize = 1_000;
/// POST bodies larger than this are refused.
const MAX_REQUEST_BODY: usize = 64 * 1024;

/// One request the sandbox answered, for its log. The credential never appears: headers are not
/// logged and a credential in the query is masked.
#[derive(Debug, Clone)]
pub struct Served {
    /// The request's HTTP method.
    pub method: String,
    /// Path and query, credential masked.
    pub target: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The provider, task id and what was served, when the request reached a task.
    pub task: Option<(String, String, String)>,
    /// Why the request was refused, when it was.
    pub refused: Option<String>,
    /// How long answering took, a slow answer's wait included.
    pub elapsed: Duration,
}

impl fmt::Display for Served {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Request text is the client's: control characters are escaped, so a task id cannot
        // forge log lines or move the terminal's cursor.
        let clean = |text: &str| -> String {
            text.chars()
                .flat_map(|c| {
                    let escaped: Vec<char> = if c.is_control() {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    };
                    escaped
                })
                .collect()
        };
        write!(
            f,
            "{} {} → {}",
            self.method,
            clean(&self.target),
            self.status
        )?;
        if let Some((provider, task, step)) = &self.task {
            write!(f, "  {provider} {}: {step}", clean(task))?;
        }
        if let Some(why) = &self.refused {
            write!(f, "  ({})", clean(why))?;
        }
        Ok(())
    }
}

/// Answers every request.
pub(crate) async fn handle(State(sandbox): State<Arc<Sandbox>>, request: Request) -> Response {
    let started = Instant::now();
    sandbox.served.fetch_add(1, Ordering::Relaxed);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let headers = request.headers().clone();
    let body = if method == HttpMethod::POST || method == HttpMethod::PUT {
        axum::body::to_bytes(request.into_body(), MAX_REQUEST_BODY)
            .await
            .ok()
    } else {
        Some(Bytes::new())
    };
    let incoming = Incoming {
        method: &method,
        path: &path,
        query: query.as_deref(),
        headers: &headers,
        body: body.as_ref(),
    };
    let (response, mut served) = answer(&sandbox, &incoming).await;
    served.elapsed = started.elapsed();
    if let Some(log) = &sandbox.options.log {
        log(&served);
    }
    response
}

struct Incoming<'a> {
    method: &'a HttpMethod,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
    /// `None` when a POST body was too large to read.
    body: Option<&'a Bytes>,
}

async fn answer(sandbox: &Sandbox, request: &Incoming<'_>) -> (Response, Served) {
    let mut served = Served {
        method: request.method.to_string(),
        target: request.path.to_owned(),
        status: 0,
        task: None,
        refused: None,
        elapsed: Duration::ZERO,
    };
    let refuse = |served: &mut Served, status: u16, why: String| {
        served.status = status;
        served.refused = Some(why.clone());
        plain(status, &why)
    };
    let trimmed = request.path.trim_start_matches('/');
    if let Some(rest) = trimmed
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|r| r.strip_prefix('/'))
    {
        return token(sandbox, request, rest, served);
    }
    if trimmed.is_empty() {
        served.status = 200;
        let listed = request
            .query
            .and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(name, _)| name == "ids")
                    .and_then(|(_, n)| n.parse::<usize>().ok())
            })
            .unwrap_or(LISTED_IDS)
            .min(MAX_LISTED_IDS);
        return (catalog(sandbox, listed), served);
    }
    let (id, rest) = trimmed.split_at(trimmed.find('/').unwrap_or(trimmed.len()));
    let Some(plan) = sandbox.plan(id) else {
        let why = format!(
            "no provider `{id}`; this sandbox serves {}",
            sandbox.ids().join(", ")
        );
        return (refuse(&mut served, 404, why), served);
    };
    let provider = &plan.provider;
    if let Some(query) = request.query {
        served.target = format!("{}?{}", request.path, masked_query(query, &provider.auth));
    }
    let expected_method = match provider.request.method {
        Method::Get => HttpMethod::GET,
        Method::Post => HttpMethod::POST,
        Method::Head => HttpMethod::HEAD,
        Method::Put => HttpMethod::PUT,
    };
    if *request.method != expected_method {
        let why = format!("{id} reads with {expected_method}");
        return (refuse(&mut served, 405, why), served);
    }
    if let Err(why) = super::auth::check(
        provider,
        &sandbox.credentials,
        &sandbox.ledger,
        &received(request),
    ) {
        let reply = &plan.unauthorized;
        served.status = reply.status;
        served.refused = Some(why);
        return (render(sandbox, reply, "", false).await, served);
    }
    if let Some(wait) = sandbox.over_limit(id) {
        served.status = 429;
        served.refused = Some(format!("over a rate limit {id} declares"));
        let mut response = plain(429, &format!("over a rate limit {id} declares"));
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        if let Ok(value) = axum::http::HeaderValue::from_str(&seconds.max(1).to_string()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        return (response, served);
    }
    let values = match read_inputs(plan, rest, request) {
        Ok(values) => values,
        Err(why) => return (refuse(&mut served, 400, why), served),
    };
    let task_id = values
        .get(provider.task_id_input().name.as_str())
        .cloned()
        .unwrap_or_default();
    let Some(track) = plan.resolve(&plan.key(&task_id)) else {
        served.status = plan.not_found.status;
        served.task = Some((id.to_owned(), task_id.clone(), "not served".into()));
        return (
            render(sandbox, &plan.not_found, &task_id, false).await,
            served,
        );
    };
    // `fault-token-expired`: the token expires before this step, which waits for a request
    // with a new one. Other tracks skip the look at the poll count.
    if track.kind == TrackKind::Fault(super::Fault::TokenExpired)
        && track.steps[(sandbox.polls(id, &task_id) as usize).min(track.steps.len() - 1)]
            .expires_token
        && let Some(token) = super::auth::bearer_token(request.headers)
        && sandbox.ledger.expire_once(id, &task_id, token)
    {
        let reply = &plan.unauthorized;
        served.status = reply.status;
        served.refused = Some(format!(
            "{}: the access token expired",
            super::Fault::TokenExpired.name()
        ));
        return (render(sandbox, reply, "", false).await, served);
    }
    let Some(poll) = sandbox.advance(id, &task_id) else {
        let why = format!("more than {MAX_TRACKED_TASKS} task ids tracked");
        return (refuse(&mut served, 503, why), served);
    };
    let at = (poll as usize).min(track.steps.len() - 1);
    let step = &track.steps[at];
    served.status = step.reply.status;
    served.task = Some((
        id.to_owned(),
        task_id.clone(),
        format!("{} {}/{}", step.label, at + 1, track.steps.len()),
    ));
    (render(sandbox, &step.reply, &task_id, true).await, served)
}

/// Every input value the request carries, by input name, each checked against its pattern. A
/// task id that is a URL is the request's path and own query, read as addressed to the plan's
/// origin (the client's `--base-url` replaced it).
fn read_inputs<'a>(
    plan: &'a ProviderPlan,
    rest: &str,
    request: &Incoming<'_>,
) -> Result<HashMap<&'a str, String>, String> {
    let provider = &plan.provider;
    let mut values = HashMap::new();
    let captured = if provider.base_url.is_none() {
        let origin = plan.url_shape.as_ref().map_or("", |s| s.origin.as_str());
        let own = own_query(provider, request.query.unwrap_or_default());
        let task_id = match own.is_empty() {
            true => format!("{origin}{rest}"),
            false => format!("{origin}{rest}?{own}"),
        };
        values.insert(provider.task_id_input().name.as_str(), task_id);
        Vec::new()
    } else {
        match_path(&provider.request.path.parts, rest).ok_or_else(|| {
            format!(
                "the path does not match {}'s template {}",
                provider.id,
                template_text(&provider.request.path.parts)
            )
        })?
    };
    for (name, raw) in captured {
        let value = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| format!("`{name}` is not UTF-8 once decoded"))?;
        if let Some(input) = provider.input(name) {
            values.insert(input.name.as_str(), value.into_owned());
        }
    }
    let query: Vec<(String, String)> = request
        .query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let in_query = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    for (name, value) in &provider.request.headers {
        let sent = request
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok());
        if sent != Some(value.as_str()) {
            return Err(format!("the request lacks the header `{name}: {value}`"));
        }
    }
    // A templated header holds an input's value (one it may not see, such as a host's).
    for (name, _) in &provider.request.header_templates {
        let sent = request
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok());
        if sent.is_none_or(str::is_empty) {
            return Err(format!("the request lacks the header `{name}`"));
        }
    }
    for flag in &provider.request.flags {
        if in_query(flag).is_none() {
            return Err(format!("the query lacks the `{flag}` flag"));
        }
    }
    for (name, value) in &provider.request.query {
        if in_query(name) != Some(value) {
            return Err(format!("the query lacks `{name}={value}`"));
        }
    }
    let body: Option<serde_json::Value> = match (provider.request.method, request.body) {
        (Method::Post, None) => return Err("the body is too large".into()),
        (Method::Post, Some(bytes)) => {
            Some(serde_json::from_slice(bytes).map_err(|_| "the body is not JSON".to_owned())?)
        }
        (Method::Put, None) => return Err("the body is too large".into()),
        (Method::Put, Some(bytes)) if bytes.is_empty() => None,
        (Method::Put, Some(bytes)) => {
            Some(serde_json::from_slice(bytes).map_err(|_| "the body is not JSON".to_owned())?)
        }
        (Method::Get | Method::Head, _) => None,
    };
    for input in &provider.inputs {
        let value = match input.location {
            InputLocation::Path
            | InputLocation::Host
            | InputLocation::Url
            | InputLocation::Next => {
                continue;
            }
            InputLocation::Query => in_query(&input.wire_name).cloned(),
            InputLocation::Header => request
                .headers
                .get(input.wire_name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            // A templated body holds each value where the template prints it.
            InputLocation::Body if provider.request.body_template.is_some() => plan
                .body_placements
                .iter()
                .find(|p| p.input == input.name)
                .and_then(|p| {
                    let text =
                        crate::syntax::jsonpath::locate(body.as_ref()?, &p.path)?.as_str()?;
                    let value = text
                        .strip_prefix(p.before.as_str())?
                        .strip_suffix(p.after.as_str())?;
                    Some(value.to_owned())
                }),
            InputLocation::Body => body
                .as_ref()
                .and_then(|b| b.get(&input.wire_name))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        };
        match value {
            Some(value) => {
                values.insert(input.name.as_str(), value);
            }
            None if input.required && input.default.is_none() => {
                return Err(format!("input `{}` is missing", input.name));
            }
            None => {}
        }
    }
    for (name, value) in &values {
        if let Some(pattern) = provider.input(name).and_then(|i| i.pattern.as_ref())
            && !pattern.is_match(value)
        {
            return Err(format!("input `{name}` does not match its pattern"));
        }
    }
    Ok(values)
}

/// A query without what the request builder adds to a task id's URL (flags, fixed parameters,
/// query inputs, a query credential): the URL's own query, as it was written.
fn own_query(provider: &Provider, query: &str) -> String {
    let added = |name: &str| {
        provider.request.flags.iter().any(|f| f == name)
            || provider.request.query.iter().any(|(n, _)| n == name)
            || provider
                .inputs
                .iter()
                .any(|i| i.location == InputLocation::Query && i.wire_name == name)
            || matches!(&provider.auth, crate::model::Auth::Query { param, .. } if param == name)
    };
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .filter(|part| {
            let name = part.split('=').next().unwrap_or_default();
            !added(&percent_decode_str(name).decode_utf8_lossy())
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Matches `path` against a template, capturing each placeholder (one or more characters, never
/// a `/`).
fn match_path<'p, 't>(parts: &'t [Part], path: &'p str) -> Option<Vec<(&'t str, &'p str)>> {
    fn go<'p, 't>(parts: &'t [Part], path: &'p str, out: &mut Vec<(&'t str, &'p str)>) -> bool {
        match parts.split_first() {
            None => path.is_empty(),
            Some((Part::Literal(literal), rest)) => path
                .strip_prefix(literal.as_str())
                .is_some_and(|remaining| go(rest, remaining, out)),
            Some((Part::Placeholder { name, .. }, rest)) => {
                let segment_end = path.find('/').unwrap_or(path.len());
                for end in (1..=segment_end).rev() {
                    if !path.is_char_boundary(end) {
                        continue;
                    }
                    out.push((name, &path[..end]));
                    if go(rest, &path[end..], out) {
                        return true;
                    }
                    out.pop();
                }
                false
            }
        }
    }
    let mut out = Vec::new();
    go(parts, path, &mut out).then_some(out)
}

fn template_text(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Literal(text) => text.clone(),
            Part::Placeholder { name, .. } => format!("{{{name}}}"),
        })
        .collect()
}

/// The request as the client addressed it, for checking signatures.
fn received<'a>(request: &Incoming<'a>) -> super::auth::Received<'a> {
    let host = request
        .headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let query = request.query.map(|q| format!("?{q}")).unwrap_or_default();
    let url = url::Url::parse(&format!("http://{host}{}{query}", request.path))
        .unwrap_or_else(|_| url::Url::parse("http://127.0.0.1/").expect("a fixed URL"));
    super::auth::Received {
        method: request.method.as_str(),
        url,
        headers: request.headers,
        body: request.body.map(|b| b.as_ref()).unwrap_or_default(),
    }
}

/// `POST /_oauth/<id>/token`: the provider's token endpoint.
fn token(
    sandbox: &Sandbox,
    request: &Incoming<'_>,
    rest: &str,
    mut served: Served,
) -> (Response, Served) {
    let id = rest.strip_suffix("/token").unwrap_or(rest);
    let (status, body) = match sandbox.plan(id) {
        _ if *request.method != HttpMethod::POST => (
            405,
            serde_json::json!({"error": "invalid_request", "error_description": "POST a token request"}),
        ),
        Some(plan) => super::auth::token_endpoint(
            &plan.provider,
            &sandbox.credentials,
            &sandbox.ledger,
            sandbox.options.token_lifetime,
            request.headers,
            request.body.map(|b| b.as_ref()).unwrap_or_default(),
        ),
        None => (
            404,
            serde_json::json!({"error": "invalid_request", "error_description": format!("no provider `{id}`")}),
        ),
    };
    served.status = status;
    if status != 200 {
        served.refused = body["error"].as_str().map(str::to_owned);
    } else {
        served.task = Some((id.to_owned(), String::new(), "token issued".into()));
    }
    let response = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(AxumBody::from(body.to_string()))
        .unwrap_or_default();
    (response, served)
}

/// The query with the credential parameters' values (a SAS token's signature) replaced by `***`.
fn masked_query(query: &str, auth: &Auth) -> String {
    let secret: Vec<&str> = super::auth::schemes(auth)
        .into_iter()
        .filter_map(|scheme| match scheme {
            Auth::Query { param, .. } => Some(param.as_str()),
            Auth::QueryString { .. } => Some("sig"),
            _ => None,
        })
        .collect();
    if secret.is_empty() {
        return query.to_owned();
    }
    query
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((name, _))
                if url::form_urlencoded::parse(name.as_bytes())
                    .next()
                    .is_some_and(|(n, _)| secret.contains(&n.as_ref())) =>
            {
                format!("{name}=***")
            }
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The HTTP response for `reply`, waiting its delay and cutting its body short if asked.
async fn render(sandbox: &Sandbox, reply: &Reply, task_id: &str, with_faults: bool) -> Response {
    if with_faults && !reply.delay.is_zero() {
        // A slow answer ends early when the sandbox stops, so Ctrl-C never waits for it.
        let mut stopping = sandbox.stopping.subscribe();
        tokio::select! {
            () = tokio::time::sleep(reply.delay) => {}
            _ = stopping.wait_for(|stopping| *stopping) => {}
        }
    }
    let bytes = match &reply.body {
        Body::Bytes(bytes) => bytes.clone(),
        body @ (Body::Json(_) | Body::Xml(_)) => body.render(task_id),
    };
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        if !name.eq_ignore_ascii_case("content-length") {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    let body = if with_faults && reply.truncate {
        // Announce the whole body (at least one byte), send half, then fail the stream: the
        // connection is cut.
        builder = builder.header("content-length", bytes.len().max(1));
        let half = Bytes::from(bytes[..bytes.len() / 2].to_vec());
        let chunks: [Result<Bytes, std::io::Error>; 2] = [
            Ok(half),
            Err(std::io::Error::other(
                "unitask sandbox: truncated on purpose",
            )),
        ];
        AxumBody::from_stream(futures_util::stream::iter(chunks))
    } else {
        AxumBody::from(bytes)
    };
    builder
        .body(body)
        .unwrap_or_else(|_| plain(500, "unitask sandbox: a reply could not be built"))
}

/// A JSON answer from the sandbox itself (not from a definition).
fn plain(status: u16, message: &str) -> Response {
    let body = serde_json::json!({ "sandbox": message });
    let mut response = Response::new(AxumBody::from(body.to_string()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET /`: every provider, its path prefix, the inputs a request needs, and the tasks it serves,
/// each with an id that reaches it and `listed` fresh ones.
fn catalog(sandbox: &Sandbox, listed: usize) -> Response {
    let providers: Vec<serde_json::Value> = sandbox
        .plans()
        .iter()
        .map(|plan| describe(plan, listed))
        .collect();
    let body = serde_json::json!({ "providers": providers });
    let mut response = Response::new(AxumBody::from(body.to_string()));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

fn describe(plan: &ProviderPlan, listed: usize) -> serde_json::Value {
    let tracks: Vec<serde_json::Value> = plan
        .tracks
        .iter()
        .map(|t| {
            let fresh: Vec<String> = (1..=listed).map_while(|n| t.fresh_id(n)).collect();
            let kind = match t.kind {
                TrackKind::Scenario => "scenario",
                TrackKind::Example => "example",
                TrackKind::Fault(_) => "fault",
            };
            serde_json::json!({
                "name": t.name,
                "kind": kind,
                "task_id": t.first_id(),
                "ids": fresh,
                "numbered": t.ids == Ids::Numbered,
                "unreachable": t.unreachable(),
                "steps": t.steps.iter().map(|s| serde_json::json!({
                    "label": s.label,
                    "status": s.reply.status,
                    "outcome": s.outcome.to_string(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "id": plan.provider.id,
        "prefix": format!("/{}", plan.provider.id),
        "inputs": plan.provider.sample_inputs().into_iter().collect::<HashMap<_, _>>(),
        "tracks": tracks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::template::Template;

    #[test]
    fn paths_match_their_templates() {
        let template =
            Template::parse("/api/v1/file/{library}/{space}/{key}").unwrap_or_else(|e| {
                panic!("{e}");
            });
        let got = match_path(&template.parts, "/api/v1/file/lib/-/a%2Fb.txt");
        assert_eq!(
            got,
            Some(vec![
                ("library", "lib"),
                ("space", "-"),
                ("key", "a%2Fb.txt")
            ])
        );
        assert_eq!(match_path(&template.parts, "/api/v1/file/lib/-/a/b"), None);
        assert_eq!(match_path(&template.parts, "/api/v1/file/lib//x"), None);
        let suffixed = Template::parse("/jobs/{id}.json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            match_path(&suffixed.parts, "/jobs/a.b.json"),
            Some(vec![("id", "a.b")])
        );
    }

    #[test]
    fn the_query_credential_is_masked() {
        let auth = Auth::Query {
            param: "access_token".into(),
            env: "X".into(),
        };
        assert_eq!(
            masked_query("upload&access_token=s3cr3t&user_id=7", &auth),
            "upload&access_token=***&user_id=7"
        );
    }
}
