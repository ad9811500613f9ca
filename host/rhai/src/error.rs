//! Script errors with where they happened: file, line, column, and the chain of calls; and
//! Rhai's terse messages made plain where authors stumble: which limit stopped a script and
//! its value, and a hint when a `()` (a missing map key, most often) was used as a value.

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

    /// How the chain of calls names the function `name`.
    pub(crate) fn call_name(name: &str) -> String {
        // Rhai names closures `anon$<hash>`.
        if name.starts_with("anon$") {
            "in a closure".to_string()
        } else {
            format!("in function '{name}'")
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
                    calls.push(ScriptError::call_name(name));
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
            EvalAltResult::ErrorStackOverflow(_) => format!(
                "stack overflow: function calls nested deeper than {MAX_CALL_LEVELS} \
                 (an endless recursion?)"
            ),
            EvalAltResult::ErrorDataTooLarge(what, _) => too_large(what),
            EvalAltResult::ErrorTerminated(token, _) if is_out_of_stack(token) => format!(
                "stopped: calls and expressions nested too deeply (they used the {} KiB of \
                 native stack a script may use)",
                MAX_NATIVE_STACK >> 10
            ),
            EvalAltResult::ErrorRuntime(value, _) if value.is_string() => {
                value.clone().into_string().unwrap_or_default()
            }
            EvalAltResult::ErrorDataRace(..) => String::from(
                "a value a callback captured is in use: either the callback was passed \
                 to a method of the very variable it captures (copy what it needs first, e.g. \
                 `let hub = session.event_hub;` and then \
                 `session.event_hub.subscribe(expr, |event| hub.publish(...))`, or subscribe \
                 through the copy: `hub.subscribe(expr, |event| session.query(...))`), or the \
                 callback runs again while it is still running (an event it publishes leads \
                 back to it)",
            ),
            other => {
                // Rhai appends " (line L, position C)"; the position is shown up front instead.
                let text = other.to_string();
                let suffix = format!(" ({position})");
                let text = text.strip_suffix(&suffix).unwrap_or(&text);
                if involves_unit(other) {
                    format!("{text}: {UNIT_HINT}")
                } else {
                    text.to_string()
                }
            }
        };
        if !calls.is_empty() {
            calls.reverse();
            message = format!("{message} ({})", calls.join(", "));
        }
        ScriptError::at(&source, position, message)
    }
}

/// Added to an error that a `()` caused: Rhai's own message names only types, and `()` is
/// what a missing map key reads as (`event.data.selection.len()` without a `selection`).
const UNIT_HINT: &str =
    "a value is () — a map key that is missing, or a function that returned nothing?";

/// Whether `error` is a function, property or index that does not exist for a `()`.
fn involves_unit(error: &EvalAltResult) -> bool {
    match error {
        // "name (type, type)": the types of the arguments.
        EvalAltResult::ErrorFunctionNotFound(signature, _) => signature
            .split_once(" (")
            .and_then(|(_, types)| types.strip_suffix(')'))
            .is_some_and(|types| types.split(", ").any(|t| t == "()")),
        // "Unknown property 'x' - a getter is not registered for type '()'", and the setter's.
        EvalAltResult::ErrorDotExpr(text, _) => text.contains("for type '()'"),
        // "() [i64]": the type indexed, then the index's.
        EvalAltResult::ErrorIndexingType(text, _) => text.starts_with("() "),
        _ => false,
    }
}

/// What a value that grew beyond a size limit says: which limit, and its value. `what` is
/// Rhai's name for the limit.
fn too_large(what: &str) -> String {
    if what.contains("string") {
        format!(
            "text too large: over {MAX_STRING_SIZE} bytes (the limit for a string, or for all \
             the strings in one array or map together)"
        )
    } else if what.contains("array") {
        format!(
            "array too large: over {MAX_ARRAY_SIZE} items (the limit for an array, the items of \
             the arrays inside it included)"
        )
    } else if what.contains("map") {
        format!(
            "map too large: over {MAX_MAP_SIZE} entries (the limit for a map, the entries of the \
             maps inside it included)"
        )
    } else {
        format!("{what} too large")
    }
}
