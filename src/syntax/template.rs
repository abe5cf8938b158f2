//! URL templates: literal text with `{name}` placeholders (`/api/v1/file/{library_id}/{space_id}`).
//!
//! Only the parse lives here; rendering (percent-encoding each value for its segment) belongs to
//! the runtime. `{{` and `}}` are not supported: URLs have no use for literal braces.

use std::fmt;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    /// A placeholder and the byte offset of its name in the template.
    Placeholder {
        name: String,
        offset: usize,
    },
}

/// Why a template does not parse, and the byte offset of the offending character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
    pub offset: usize,
}

impl Template {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' => {
                    let name_start = at + 1;
                    let mut name_end = None;
                    for (i, c) in chars.by_ref() {
                        if c == '}' {
                            name_end = Some(i);
                            break;
                        }
                        if !(c.is_ascii_alphanumeric() || c == '_') {
                            return Err(TemplateError {
                                message: format!(
                                    "unexpected `{c}` in a placeholder name (letters, digits and `_` only)"
                                ),
                                offset: i,
                            });
                        }
                    }
                    let Some(name_end) = name_end else {
                        return Err(TemplateError {
                            message: "unclosed `{`".into(),
                            offset: at,
                        });
                    };
                    let name = &text[name_start..name_end];
                    if name.is_empty() {
                        return Err(TemplateError {
                            message: "empty placeholder `{}`".into(),
                            offset: at,
                        });
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Placeholder {
                        name: name.to_owned(),
                        offset: name_start,
                    });
                }
                '}' => {
                    return Err(TemplateError {
                        message: "`}` without a matching `{`".into(),
                        offset: at,
                    });
                }
                c if c.is_control() || c == ' ' => {
                    return Err(TemplateError {
                        message: format!("{c:?} is not allowed in a URL template"),
                        offset: at,
                    });
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// The template with each placeholder replaced by `value(name)`.
    pub fn render(&self, mut value: impl FnMut(&str) -> String) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.clone(),
                Part::Placeholder { name, .. } => value(name),
            })
            .collect()
    }

    /// Placeholder names with their byte offsets, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = (&str, usize)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Placeholder { name, offset } => Some((name.as_str(), *offset)),
            Part::Literal(_) => None,
        })
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Literal(text) => f.write_str(text)?,
                Part::Placeholder { name, .. } => write!(f, "{{{name}}}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_back() {
        for text in [
            "/files/v3/files/import-from-url/async/tasks/{task_id}/status",
            "https://{store_domain}",
            "/api/v1/file/{library_id}/{space_id}/{confirm_key}",
            "/plain",
            "",
        ] {
            let template = Template::parse(text).expect(text);
            assert_eq!(template.to_string(), text);
        }
        let template = Template::parse("/a/{x}/b/{y_2}").expect("valid");
        let names: Vec<_> = template.placeholders().collect();
        assert_eq!(names, [("x", 4), ("y_2", 10)]);
    }

    #[test]
    fn errors_point_at_the_character() {
        let table = [
            ("/a/{task_id", "unclosed `{`", 3),
            ("/a/{}", "empty placeholder `{}`", 3),
            (
                "/a/{task-id}",
                "unexpected `-` in a placeholder name (letters, digits and `_` only)",
                8,
            ),
            ("/a}", "`}` without a matching `{`", 2),
            ("/a b", "' ' is not allowed in a URL template", 2),
        ];
        for (text, message, offset) in table {
            let error = Template::parse(text).expect_err(text);
            assert_eq!(
                (error.message.as_str(), error.offset),
                (message, offset),
                "{text}"
            );
        }
    }
}
