//! Script errors with where they happened: file, line, column, and the chain of calls.

use super::*;

/// An error in a script, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The script's file (or the module it was raised in).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What went wrong, and the calls it was raised through.
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{}:{line}:{column}: {}", self.file, self.message)
            }
            (Some(line), None) => write!(f, "{}:{line}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

impl ScriptError {
    pub(crate) fn at(file: &str, position: Position, message: String) -> Self {
        ScriptError {
            file: file.to_string(),
            line: position.line(),
            column: position.position(),
            message,
        }
    }

    pub(crate) fn from_parse(file: &str, err: rhai::ParseError) -> Self {
        ScriptError::at(file, err.1, err.0.to_string())
    }

    /// Describes a runtime error by its innermost cause, in the file where that happened,
    /// followed by the chain of functions it was raised through.
    pub(crate) fn from_eval(file: &str, err: &EvalAltResult) -> Self {
        let mut source = file.to_string();
        let mut calls = Vec::new();
        let mut current = err;
        loop {
            match current {
                EvalAltResult::ErrorInFunctionCall(name, src, inner, _) => {
                    if !src.is_empty() {
                        source = src.clone();
                    }
                    // Rhai names closures `anon$<hash>`.
                    if !name.starts_with("anon$") {
                        calls.push(format!("in function '{name}'"));
                    } else {
                        calls.push("in a closure".to_string());
                    }
                    current = inner;
                }
                EvalAltResult::ErrorInModule(name, inner, _) => {
                    if !name.is_empty() {
                        source = name.clone();
                    }
                    calls.push(format!("in module '{name}'"));
                    current = inner;
                }
                _ => break,
            }
        }
        let position = current.position();
        let mut message = match current {
            EvalAltResult::ErrorTooManyOperations(_) => {
                format!("stopped after {MAX_OPERATIONS} operations (an endless loop?)")
            }
            EvalAltResult::ErrorRuntime(value, _) if value.is_string() => {
                value.clone().into_string().unwrap_or_default()
            }
            EvalAltResult::ErrorDataRace(..) => format!(
                "{current}: a value a callback captured is in use: either the callback was passed \
                 to a method of the very variable it captures (copy what it needs first, e.g. \
                 `let hub = session.event_hub;` and then \
                 `session.event_hub.subscribe(expr, |event| hub.publish(...))`), or the callback \
                 runs again while it is still running (an event it publishes leads back to it)"
            ),
            other => {
                // Rhai appends " (line L, position C)"; the position is shown up front instead.
                let text = other.to_string();
                let suffix = format!(" ({position})");
                text.strip_suffix(&suffix).unwrap_or(&text).to_string()
            }
        };
        if !calls.is_empty() {
            calls.reverse();
            message = format!("{message} ({})", calls.join(", "));
        }
        ScriptError::at(&source, position, message)
    }
}
