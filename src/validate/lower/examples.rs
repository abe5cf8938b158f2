//! Examples (inputs, response, expectation) and the scenarios that chain them.

use std::collections::HashSet;

use super::{Lowerer, all_ok};
use crate::model;
use crate::spec::{self, de};
use crate::validate::{Code, Diagnostic};

impl Lowerer<'_> {
    pub(super) fn lower_examples(
        &mut self,
        def: &spec::Definition,
        inputs: &Option<(Vec<model::Input>, usize)>,
    ) -> Option<Vec<model::Example>> {
        let before = self.out.len();
        let mut names = HashSet::new();
        let mut examples = Vec::with_capacity(def.examples.len());
        for example in &def.examples {
            if !names.insert(example.name.value.as_str()) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidExample,
                        example.name.span,
                        format!("example name `{}` is used twice", example.name.value),
                    )
                    .help("scenarios refer to examples by name: make each unique"),
                );
            }
            let mut values = Vec::new();
            for (name, value) in example.inputs.iter() {
                match def.inputs.get(&name.value) {
                    None => self.push(
                        Diagnostic::new(
                            Code::InvalidExample,
                            name.span,
                            format!("example input `{}` is not a declared input", name.value),
                        )
                        .help(de::did_you_mean(
                            &name.value,
                            &def.inputs
                                .iter()
                                .map(|(n, _)| n.value.as_str())
                                .collect::<Vec<_>>(),
                        )),
                    ),
                    Some(_) => {
                        let pattern = inputs
                            .as_ref()
                            .and_then(|(inputs, _)| inputs.iter().find(|i| i.name == name.value))
                            .and_then(|i| i.pattern.as_ref());
                        if let Some(pattern) = pattern
                            && !pattern.is_match(&value.value)
                        {
                            self.push(
                                Diagnostic::new(
                                    Code::InvalidExample,
                                    value.span,
                                    format!("example value `{}` does not match the pattern of input `{}`", value.value, name.value),
                                )
                                .help("a caller could not pass this value; fix the example or the pattern"),
                            );
                        }
                        values.push((name.value.clone(), value.value.clone()));
                    }
                }
            }
            let response = &example.response;
            if response.body.is_some() && response.text.is_some() {
                self.push(
                    Diagnostic::new(
                        Code::InvalidExample,
                        example.name.span,
                        format!(
                            "example `{}` has both `body` and `text`",
                            example.name.value
                        ),
                    )
                    .help("`body` is JSON written as YAML; `text` is the raw body: keep one"),
                );
            }
            let status = self.http_status(response.status.span, Some(response.status.value));
            let body = match (&response.body, &response.text) {
                (Some(body), _) => serde_json::to_vec(&body.value.0).unwrap_or_default(),
                (None, Some(text)) => text.value.as_bytes().to_vec(),
                (None, None) => Vec::new(),
            };
            let expect = match (&example.expect, &example.expect_error) {
                (Some(expect), None) => Some(model::Expectation::Task(
                    expect
                        .value
                        .iter()
                        .map(|(k, v)| (k.value.clone(), v.value.0.clone()))
                        .collect(),
                )),
                (None, Some(error)) => {
                    let kind = self.kind(&error.kind);
                    kind.map(|kind| {
                        model::Expectation::Error(model::ExpectedError {
                            kind,
                            code: error.code.as_ref().map(|c| c.value.clone()),
                            message: error.message.as_ref().map(|m| m.value.clone()),
                            retryable: error.retryable.as_ref().map(|r| r.value),
                            retry_after: error.retry_after.as_ref().map(|r| r.value),
                        })
                    })
                }
                _ => {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidExample,
                            example.name.span,
                            format!(
                                "example `{}` needs exactly one of `expect` and `expect_error`",
                                example.name.value
                            ),
                        )
                        .help("`expect` gives the UploadTask, `expect_error` the error"),
                    );
                    None
                }
            };
            if let (Some(status), Some(expect)) = (status, expect) {
                examples.push(model::Example {
                    name: example.name.value.clone(),
                    inputs: values,
                    response: model::ExampleResponse {
                        status,
                        headers: response
                            .headers
                            .iter()
                            .map(|(k, v)| (k.value.clone(), v.value.clone()))
                            .collect(),
                        body,
                    },
                    expect,
                });
            }
        }
        all_ok(before, self.out)?;
        Some(examples)
    }

    pub(super) fn lower_scenarios(
        &mut self,
        def: &spec::Definition,
        examples: &[model::Example],
    ) -> Option<Vec<model::Scenario>> {
        let before = self.out.len();
        let mut scenarios = Vec::new();
        for scenario in &def.scenarios {
            if scenario.steps.is_empty() {
                self.push(
                    Diagnostic::new(
                        Code::InvalidScenario,
                        scenario.name.span,
                        format!("scenario `{}` has no steps", scenario.name.value),
                    )
                    .help("list example names in the order the sandbox should serve them"),
                );
            }
            let mut steps = Vec::new();
            for step in &scenario.steps {
                match examples.iter().position(|e| e.name == step.value) {
                    Some(index) => steps.push(index),
                    None => self.push(
                        Diagnostic::new(
                            Code::InvalidScenario,
                            step.span,
                            format!("scenario step `{}` is not an example", step.value),
                        )
                        .help(de::did_you_mean(
                            &step.value,
                            &examples.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
                        )),
                    ),
                }
            }
            scenarios.push(model::Scenario {
                name: scenario.name.value.clone(),
                task_id: scenario.task_id.value.clone(),
                steps,
            });
        }
        all_ok(before, self.out)?;
        Some(scenarios)
    }
}
