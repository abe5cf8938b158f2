//! A diagnostic (code, message, span, help) and its three renderings: human (annotate-snippets,
//! the renderer cargo uses), JSON, and GitHub workflow annotations.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::spec::Span;
use crate::validate::codes::Code;

/// One problem in a definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    /// Lowercase prose that quotes the bad value.
    pub message: String,
    /// The byte range the caret goes under.
    pub span: Span,
    /// A short label under the caret.
    pub label: Option<String>,
    /// What to do about it.
    pub help: Option<String>,
    /// Other places that explain the problem (the first of two duplicate keys).
    pub related: Vec<(Span, String)>,
    /// Facts that explain it (which example ran, each value that differs).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            span,
            label: None,
            help: None,
            related: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push((span, label.into()));
        self
    }
}

/// All diagnostics of one file, with the text they point into. `Debug` leaves the text out (a
/// whole definition in a log line says nothing the diagnostics do not).
#[derive(Clone)]
pub struct FileReport {
    /// The path as given on the command line (or a name for in-memory sources).
    pub path: String,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl std::fmt::Debug for FileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReport")
            .field("path", &self.path)
            .field("source", &format_args!("<{} bytes>", self.source.len()))
            .field("diagnostics", &self.diagnostics)
            .finish()
    }
}

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where a byte offset is in `source`.
pub fn position(source: &str, offset: usize) -> Position {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Position { line, column }
}

fn floor_char_boundary(source: &str, mut offset: usize) -> usize {
    while offset > 0 && !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl FileReport {
    /// The human rendering; `color` adds ANSI styles.
    pub fn render_human(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        }
        .term_width(100);
        let mut out = String::new();
        for diagnostic in &self.diagnostics {
            let span = clamp(&self.source, diagnostic.span);
            let mut primary = AnnotationKind::Primary.span(span.start..span.end);
            if let Some(label) = &diagnostic.label {
                primary = primary.label(label.as_str());
            }
            let mut snippet = Snippet::source(self.source.as_str())
                .path(self.path.as_str())
                .annotation(primary);
            for (related, label) in &diagnostic.related {
                let related = clamp(&self.source, *related);
                snippet = snippet.annotation(
                    AnnotationKind::Context
                        .span(related.start..related.end)
                        .label(label.as_str()),
                );
            }
            let mut group: Group<'_> = Level::ERROR
                .primary_title(diagnostic.message.as_str())
                .id(diagnostic.code.as_str())
                .element(snippet);
            for note in &diagnostic.notes {
                group = group.element(Level::NOTE.message(note.as_str()));
            }
            if let Some(help) = &diagnostic.help {
                group = group.element(Level::HELP.message(help.as_str()));
            }
            out.push_str(&renderer.render(&[group]));
            out.push_str("\n\n");
        }
        out
    }

    /// One JSON object per diagnostic.
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        self.diagnostics
            .iter()
            .map(|d| {
                let start = position(&self.source, d.span.start);
                let end = position(&self.source, d.span.end);
                serde_json::json!({
                    "file": self.path,
                    "code": d.code.as_str(),
                    "name": d.code.name(),
                    "message": d.message,
                    "line": start.line,
                    "column": start.column,
                    "end_line": end.line,
                    "end_column": end.column,
                    "label": d.label,
                    "notes": d.notes,
                    "help": d.help,
                })
            })
            .collect()
    }

    /// GitHub Actions workflow commands: `::error file=…,line=…,col=…::…`.
    pub fn render_github(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            let start = position(&self.source, d.span.start);
            let end = position(&self.source, d.span.end);
            let mut message = format!("{} {}", d.code.as_str(), d.message);
            for note in &d.notes {
                message.push_str("\nnote: ");
                message.push_str(note);
            }
            if let Some(help) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            out.push_str(&format!(
                "::error file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
                escape_property(&self.path),
                start.line,
                start.column,
                end.line,
                end.column,
                escape_property(&format!("{} {}", d.code.as_str(), d.code.name())),
                escape_data(&message),
            ));
        }
        out
    }
}

/// Keeps a span inside the source and on character boundaries, and at least one character wide
/// where there is a character to point at.
fn clamp(source: &str, span: Span) -> Span {
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let mut end = floor_char_boundary(source, span.end.min(source.len())).max(start);
    if end == start
        && let Some(c) = source[start..].chars().next()
        && c != '\n'
    {
        end = start + c.len_utf8();
    }
    Span { start, end }
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_from_one() {
        let source = "a: 1\nbé: x\n";
        assert_eq!(position(source, 0), Position { line: 1, column: 1 });
        assert_eq!(position(source, 5), Position { line: 2, column: 1 });
        let x = source.find('x').expect("x");
        assert_eq!(position(source, x), Position { line: 2, column: 5 });
    }

    #[test]
    fn github_annotations_escape_their_fields() {
        let report = FileReport {
            path: "providers/a,b.yaml".into(),
            source: "id: x\n".into(),
            diagnostics: vec![
                Diagnostic::new(Code::IdMismatch, Span::new(4, 5), "bad: 100%").help("fix"),
            ],
        };
        assert_eq!(
            report.render_github(),
            "::error file=providers/a%2Cb.yaml,line=1,col=5,endLine=1,endColumn=6,title=UT116 id-mismatch::UT116 bad: 100%25%0Ahelp: fix\n"
        );
    }
}
