//! How failed requests become typed errors: error body shapes, codes, statuses, failures inside a
//! 2xx, retry hints.

use std::collections::HashMap;

use super::{Lowerer, Slot, all_ok};
use crate::model;
use crate::spec::{self};
use crate::validate::{Code, Diagnostic};

impl Lowerer<'_> {
    pub(super) fn lower_failures(
        &mut self,
        failures: &spec::Failures,
    ) -> Option<model::FailurePlan> {
        let before = self.out.len();
        let mut bodies = Vec::new();
        for body in &failures.bodies {
            if body.code.is_none() && body.message.is_none() {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        body.span,
                        "an error body shape needs `code` or `message`",
                    )
                    .help("write `message: $.error` or `code: $.code`"),
                );
            }
            let code = self.optional_field(&body.code, Slot::Text);
            let message = self.optional_field(&body.message, Slot::Text);
            let details = self.lower_errors(&body.details);
            if let (Some(code), Some(message)) = (code, message) {
                bodies.push(model::ErrorBodyPlan {
                    code,
                    message,
                    details,
                });
            }
        }
        let mut codes = HashMap::new();
        for (code, kind) in failures.codes.iter() {
            if let Some(kind) = self.kind(kind) {
                codes.insert(code.value.clone(), kind);
            }
        }
        let mut statuses = HashMap::new();
        for (status, kind) in failures.statuses.iter() {
            let kind = self.kind(kind);
            let status_code = self.http_status(status.span, status.value.parse::<u16>().ok());
            if let (Some(kind), Some(status_code)) = (kind, status_code) {
                statuses.insert(status_code, kind);
            }
        }
        let mut in_body = Vec::new();
        for failure in &failures.in_body {
            // Tested on the whole body, before any envelope is opened.
            let when = self.scoped(spec::Scope::Body, false, |l| {
                l.condition(&failure.when.value, failure.when.span)
            });
            let kind = self.kind(&failure.kind);
            if let (Some(when), Some(kind)) = (when, kind) {
                in_body.push((when, kind));
            }
        }
        let retryable_statuses = match &failures.retryable_statuses {
            Some(list) => list
                .iter()
                .filter_map(|s| self.http_status(s.span, Some(s.value)))
                .collect(),
            None => vec![408, 429, 500, 502, 503, 504],
        };
        let retry_after_header = failures
            .retry_after_header
            .as_ref()
            .and_then(|h| self.wire_name(h, "header"));
        // Read on the whole failed answer, like error bodies.
        let retry_after = self.optional_field(&failures.retry_after, Slot::Wait);
        all_ok(before, self.out)?;
        Some(model::FailurePlan {
            bodies,
            codes,
            statuses,
            in_body,
            retryable_statuses,
            retryable_codes: failures
                .retryable_codes
                .iter()
                .map(|c| c.value.clone())
                .collect(),
            retry_after_header,
            retry_after: retry_after?,
        })
    }
}
