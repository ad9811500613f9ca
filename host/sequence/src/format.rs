//! Python's `str.format` for clique's patterns: `{name}` fields and `{{`/`}}` escapes,
//! nothing else (no positions, conversions or specs, which clique's keys never need).

use crate::SequenceError;

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(String),
    Field(&'a str),
}

/// The pieces of `pattern`, or why it is not one.
pub(crate) fn pieces(pattern: &str) -> Result<Vec<Piece<'_>>, SequenceError> {
    let error = |reason: &str| SequenceError::Format {
        pattern: pattern.to_string(),
        reason: reason.to_string(),
    };
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = pattern;
    while let Some(at) = rest.find(['{', '}']) {
        text.push_str(&rest[..at]);
        let brace = rest.as_bytes()[at];
        let after = &rest[at + 1..];
        if after.as_bytes().first() == Some(&brace) {
            text.push(char::from(brace));
            rest = &after[1..];
            continue;
        }
        if brace == b'}' {
            return Err(error("single '}' encountered"));
        }
        let Some(end) = after.find('}') else {
            return Err(error("expected '}' before end of string"));
        };
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(error(&format!(
                "unsupported field {{{name}}} (only {{head}}, {{tail}}, {{padding}}, {{range}}, \
                 {{ranges}} and {{holes}})"
            )));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Field(name));
        rest = &after[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_escapes() {
        assert_eq!(
            pieces("{{head}} {head}-x").unwrap(),
            [
                Piece::Text("{head} ".into()),
                Piece::Field("head"),
                Piece::Text("-x".into())
            ]
        );
        assert!(pieces("a } b").is_err());
        assert!(pieces("{head").is_err());
        assert!(pieces("{head!r}").is_err());
        assert!(pieces("{}").is_err());
    }
}
