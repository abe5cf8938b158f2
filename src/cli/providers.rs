//! `unitask providers [--json]`: every provider the engine knows, where it came from, what it
//! needs (inputs, credentials) and what its statuses mean.

use std::path::PathBuf;

use serde_json::{Value, json};
use unitask::interp::{Loaded, Source};
use unitask::model::{Auth, Region, Signing};

use super::{EXIT_OK, status};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// More definitions (files or folders), loaded at run time.
    #[arg(long = "definitions", value_name = "PATH")]
    definitions: Vec<PathBuf>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> u8 {
    let engine = match status::engine(&args.definitions) {
        Ok(engine) => engine,
        Err(code) => return code,
    };
    let described: Vec<Value> = engine.iter().map(describe).collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&described).unwrap_or_default()
        );
    } else {
        for (loaded, value) in engine.iter().zip(&described) {
            print!("{}", human(loaded, value));
        }
    }
    EXIT_OK
}

fn describe(loaded: &Loaded) -> Value {
    let provider = &loaded.provider;
    let source = match &loaded.source {
        Source::BuiltIn => json!("built-in, generated"),
        Source::File(path) => json!(path.display().to_string()),
        Source::Text(name) => json!(name),
    };
    let inputs: Vec<Value> = provider
        .inputs
        .iter()
        .map(|i| {
            json!({
                "name": i.name,
                "in": location(i.location),
                "task_id": i.name == provider.task_id_input().name,
                "required": i.required,
                "default": i.default,
                "pattern": i.pattern_text(),
                "hosts": i.hosts_text(),
                "doc": i.doc,
            })
        })
        .collect();
    let states: Vec<Value> = provider
        .response
        .state
        .documented
        .iter()
        .map(|native| {
            let state = provider.response.state.map.get(native).map(|s| s.as_str());
            let refined: Vec<&str> = provider
                .response
                .state
                .rules
                .iter()
                .filter(|r| r.native.iter().any(|n| n == native))
                .map(|r| r.state.as_str())
                .collect();
            let label = provider.response.state.labels.get(native);
            json!({ "native": native, "label": label, "state": state, "refined_to": refined })
        })
        .collect();
    let answers: Vec<Value> = provider
        .response
        .answers
        .iter()
        .map(|a| json!({ "status": a.statuses, "when": a.when.is_some(), "state": a.state.map(|s| s.as_str()) }))
        .collect();
    json!({
        "id": provider.id,
        "name": provider.name,
        "source": source,
        "docs": provider.docs,
        "base_url": provider.base_url.as_ref().map(ToString::to_string),
        "base_url_confirmed": provider.base_url_confirmed,
        "method": provider.request.method.as_str(),
        "body_template": provider.request.body_template.as_ref().map(|t| t.variables()),
        "format": match provider.response.format {
            unitask::spec::BodyFormat::Json => "json",
            unitask::spec::BodyFormat::Xml => "xml",
        },
        "max_body_bytes": provider.limits.max_body_bytes,
        "keep_raw": provider.limits.keep_raw,
        "answers": answers,
        "next": provider.response.next.as_ref().map(|n| json!({
            "provider": n.provider,
            "when": n.states.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "inputs": n.inputs.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(),
        })),
        "auth": auth_json(&provider.auth),
        "inputs": inputs,
        "states": states,
        "examples": provider.examples.len(),
        "scenarios": provider.scenarios.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
    })
}

fn human(loaded: &Loaded, value: &Value) -> String {
    let provider = &loaded.provider;
    let mut out = format!(
        "{} — {} [{}]\n",
        provider.id,
        provider.name,
        value["source"].as_str().unwrap_or_default()
    );
    let confirmed = if provider.base_url_confirmed {
        ""
    } else {
        " (unconfirmed: pass --base-url)"
    };
    match &provider.base_url {
        Some(base_url) => out.push_str(&format!("  base URL  {base_url}{confirmed}\n")),
        None => out.push_str("  base URL  none: the task id is the status URL\n"),
    }
    out.push_str(&format!(
        "  request   {} {}\n",
        provider.request.method.as_str(),
        if provider.base_url.is_some() {
            provider.request.path.to_string()
        } else {
            format!(
                "<{}>{}",
                provider.task_id_input().name,
                provider.request.path
            )
        }
    ));
    if let Some(template) = &provider.request.body_template {
        out.push_str(&format!(
            "  body      a template of {}\n",
            template.variables().join(", ")
        ));
    }
    let mut reading = Vec::new();
    if provider.response.format == unitask::spec::BodyFormat::Xml {
        reading.push("XML bodies".to_owned());
    }
    if let Some(limit) = provider.limits.max_body_bytes {
        reading.push(format!("bodies up to {limit} bytes"));
    }
    if !provider.limits.keep_raw {
        reading.push("raw not kept".to_owned());
    }
    if !reading.is_empty() {
        out.push_str(&format!("  answers   {}\n", reading.join(", ")));
    }
    for answer in value["answers"].as_array().into_iter().flatten() {
        let statuses: Vec<String> = answer["status"]
            .as_array()
            .into_iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        let when = if answer["when"].as_bool() == Some(true) {
            " when its condition holds"
        } else {
            ""
        };
        let state = answer["state"]
            .as_str()
            .map_or_else(|| "mapped like a 2xx".to_owned(), |s| format!("→ {s}"));
        out.push_str(&format!(
            "  answers   HTTP {}{when}: {state}\n",
            statuses.join(", ")
        ));
    }
    out.push_str(&format!("  auth      {}\n", auth_text(&provider.auth)));
    for input in &provider.inputs {
        let role = if input.name == provider.task_id_input().name {
            " (task id)"
        } else {
            ""
        };
        let need = if input.required {
            "required"
        } else {
            "optional"
        };
        let default = input
            .default
            .as_deref()
            .map(|d| format!(", default {d:?}"))
            .unwrap_or_default();
        let hosts = input
            .hosts_text()
            .map(|h| format!(", hosts `{h}`"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  input     {}{role}: in {}, {need}{default}{hosts}\n",
            input.name,
            location(input.location)
        ));
    }
    if let Some(next) = &provider.response.next {
        let when: Vec<&str> = next.states.iter().map(|s| s.as_str()).collect();
        out.push_str(&format!(
            "  next      {} once {}\n",
            next.provider,
            when.join(" or ")
        ));
    }
    for state in value["states"].as_array().into_iter().flatten() {
        let refined: Vec<&str> = state["refined_to"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let refined = if refined.is_empty() {
            String::new()
        } else {
            format!(" (or {} by rule)", refined.join(", "))
        };
        let label = state["label"]
            .as_str()
            .map(|label| format!(" ({label})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  status    {}{label} → {}{refined}\n",
            state["native"].as_str().unwrap_or_default(),
            state["state"].as_str().unwrap_or("unknown")
        ));
    }
    out.push('\n');
    out
}

fn location(location: unitask::spec::InputLocation) -> &'static str {
    use unitask::spec::InputLocation::*;
    match location {
        Path => "path",
        Host => "host",
        Query => "query",
        Header => "header",
        Body => "body",
        Url => "url",
        Next => "next (carried to the follow-up)",
    }
}

/// A scheme as `providers --format json` shows it: its variables, and what a grant or a
/// signature is computed from.
fn auth_json(auth: &Auth) -> Value {
    let mut out = json!({ "scheme": auth.name(), "env": auth.env_names() });
    match auth {
        Auth::AnyOf(alternatives) => {
            out["alternatives"] = alternatives.iter().map(auth_json).collect();
        }
        Auth::OAuth2(oauth) => {
            out["grant"] = json!(oauth.grant.name());
            out["token_url"] = json!(oauth.token_url.as_ref().map(|t| t.to_string()));
            out["scopes"] = json!(oauth.scopes);
            out["audience"] = json!(oauth.audience);
            out["client_auth"] = json!(match oauth.client_auth {
                unitask::model::ClientAuth::Basic => "basic",
                unitask::model::ClientAuth::Body => "body",
            });
        }
        Auth::Sign(signing) => match &**signing {
            Signing::AwsSigV4 {
                service,
                region,
                content_sha256,
                ..
            } => {
                out["service"] = json!(service);
                out["region"] = match region {
                    Region::Input(name) => json!({ "input": name }),
                    Region::Fixed(region) => json!(region),
                };
                out["content_sha256"] = json!(content_sha256);
            }
            Signing::AzureSharedKey { account_input, .. } => {
                out["account"] = json!({ "input": account_input });
            }
            Signing::Acs3 { .. } => {}
        },
        _ => {}
    }
    out
}

/// A scheme in one line: `oauth2 client_credentials from A, B (token at …)`.
fn auth_text(auth: &Auth) -> String {
    if let Auth::AnyOf(alternatives) = auth {
        let each: Vec<String> = alternatives.iter().map(auth_text).collect();
        return format!("the first that is set of: {}", each.join("; or "));
    }
    let env = auth.env_names();
    let mut text = auth.name().to_owned();
    if !env.is_empty() {
        text.push_str(&format!(" from {}", env.join(", ")));
    }
    match auth {
        Auth::OAuth2(oauth) => {
            let at = oauth
                .token_url
                .as_ref()
                .map_or_else(|| "the key file's token_uri".to_owned(), |t| t.to_string());
            text.push_str(&format!(" (token from {at}"));
            if !oauth.scopes.is_empty() {
                text.push_str(&format!(", scopes {}", oauth.scopes.join(" ")));
            }
            text.push(')');
        }
        Auth::Sign(signing) => match &**signing {
            Signing::AwsSigV4 {
                service, region, ..
            } => {
                let region = match region {
                    Region::Input(name) => format!("input `{name}`"),
                    Region::Fixed(region) => region.clone(),
                };
                text.push_str(&format!(" (service {service}, region {region})"));
            }
            Signing::AzureSharedKey { account_input, .. } => {
                text.push_str(&format!(" (account: input `{account_input}`)"));
            }
            Signing::Acs3 { .. } => {}
        },
        _ => {}
    }
    text
}
