//! Examples (inputs, response, expectation) and the scenarios that chain them.

use std::collections::HashSet;

use super::{Lowerer, all_ok};
use crate::model;
use crate::spec::InputLocation;
use crate::spec::{self, de};
use crate::validate::{Code, Diagnostic};

/// A help line that offers a value `input` accepts, generated from its pattern, after `advice`.
fn suggestion(input: Option<&model::Input>, advice: &str) -> String {
    match input.and_then(|i| Some((i, i.pattern_text()?, i.sample()?))) {
        Some((input, _, value)) => format!("{advice}; `{}` accepts e.g. `{value}`", input.name),
        None => advice.to_owned(),
    }
}

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
            let values = self.example_inputs(def, example, inputs);
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
            if let (Some(body), true) = (&response.body, self.xml) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidExample,
                        body.span,
                        format!(
                            "example `{}` writes its body as YAML, but the answers are XML",
                            example.name.value
                        ),
                    )
                    .help("give the XML as it arrives, with `text: |`"),
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
                            details: error
                                .details
                                .as_ref()
                                .map(|d| d.value.iter().map(|v| v.0.clone()).collect()),
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
            let now = example.now.as_ref().and_then(|now| {
                let parsed = now.value.parse::<jiff::Timestamp>().ok();
                if parsed.is_none() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidExample,
                            now.span,
                            format!("`now` is not an RFC 3339 time: `{}`", now.value),
                        )
                        .help(
                            "write the clock the example is read at, e.g. `2024-05-02T10:00:00Z`",
                        ),
                    );
                }
                parsed
            });
            if let (Some(status), Some(expect)) = (status, expect) {
                examples.push(model::Example {
                    name: example.name.value.clone(),
                    inputs: values,
                    now,
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

    /// UT120: an example's inputs are declared, pass every rule the request builder applies
    /// (pattern, line breaks, `.`/`..`, DNS names for hosts), and leave out no required input:
    /// an example is a request the sandbox replays, so it must be one a caller could make. The
    /// task id an example leaves out (`example-task`) is held to the same rules.
    fn example_inputs(
        &mut self,
        def: &spec::Definition,
        example: &spec::Example,
        inputs: &Option<(Vec<model::Input>, usize)>,
    ) -> Vec<(String, String)> {
        let lowered = inputs.as_ref();
        let find = |name: &str| lowered.and_then(|(all, _)| all.iter().find(|i| i.name == name));
        let mut values = Vec::new();
        for (name, value) in example.inputs.iter() {
            if def.inputs.get(&name.value).is_none() {
                let declared: Vec<&str> =
                    def.inputs.iter().map(|(n, _)| n.value.as_str()).collect();
                self.push(
                    Diagnostic::new(
                        Code::InvalidExample,
                        name.span,
                        format!("example input `{}` is not a declared input", name.value),
                    )
                    .help(de::did_you_mean(&name.value, &declared)),
                );
                continue;
            }
            if let Some(why) = find(&name.value).and_then(|input| input.refusal(&value.value)) {
                self.push(
                    Diagnostic::new(Code::InvalidExample, value.span, why)
                        .label("a caller could not pass this value")
                        .help(suggestion(
                            find(&name.value),
                            "fix the example or the pattern",
                        )),
                );
            }
            values.push((name.value.clone(), value.value.clone()));
        }
        let Some((all, task_id)) = lowered else {
            return values;
        };
        let task_input = &all[*task_id];
        let given = |name: &str| example.inputs.get(name).is_some();
        if !given(&task_input.name)
            && let Some(why) = task_input.refusal(model::EXAMPLE_TASK_ID)
        {
            self.push(
                Diagnostic::new(
                    Code::InvalidExample,
                    example.name.span,
                    format!(
                        "example `{}` gives no `{}`, and the default task id `{}` is refused: {why}",
                        example.name.value,
                        task_input.name,
                        model::EXAMPLE_TASK_ID
                    ),
                )
                .label("needs a task id")
                .help(suggestion(Some(task_input), &format!("give the example `inputs: {{ {}: … }}`", task_input.name))),
            );
        }
        for input in all.iter().filter(|i| {
            i.required
                && i.default.is_none()
                && i.location != InputLocation::Host
                && !given(&i.name)
        }) {
            if input.name == task_input.name {
                continue;
            }
            let known = def
                .examples
                .iter()
                .find_map(|e| e.inputs.get(&input.name))
                .map(|v| {
                    format!(
                        "add `{}: {}` to its `inputs` (the value another example gives)",
                        input.name, v.value
                    )
                });
            let help = known.unwrap_or_else(|| {
                suggestion(
                    Some(input),
                    &format!("add `{}` to its `inputs`", input.name),
                )
            });
            self.push(
                Diagnostic::new(
                    Code::InvalidExample,
                    example.name.span,
                    format!(
                        "example `{}` makes a request without the required input `{}`",
                        example.name.value, input.name
                    ),
                )
                .label(format!("no `{}`", input.name))
                .help(help),
            );
        }
        values
    }

    pub(super) fn lower_scenarios(
        &mut self,
        def: &spec::Definition,
        examples: &[model::Example],
        task_input: Option<&model::Input>,
    ) -> Option<Vec<model::Scenario>> {
        let before = self.out.len();
        let mut scenarios = Vec::new();
        for (i, scenario) in def.scenarios.iter().enumerate() {
            // The sandbox plays a task id's track: two scenarios of one id would be one.
            if let Some(first) = def.scenarios[..i]
                .iter()
                .find(|other| other.task_id.value == scenario.task_id.value)
            {
                self.push(
                    Diagnostic::new(
                        Code::InvalidScenario,
                        scenario.task_id.span,
                        format!(
                            "scenario `{}` uses the task id of scenario `{}`",
                            scenario.name.value, first.name.value
                        ),
                    )
                    .label("the same task id")
                    .related(first.task_id.span, "first used here")
                    .help("give each scenario its own task id: the sandbox plays one lifecycle per id"),
                );
            }
            if let Some(why) = task_input.and_then(|input| input.refusal(&scenario.task_id.value)) {
                self.push(
                    Diagnostic::new(Code::InvalidScenario, scenario.task_id.span, why)
                        .label("a caller could not ask for this task")
                        .help(suggestion(task_input, "fix the task id or the pattern")),
                );
            }
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
