//! The tokenizer: query text to a list of tokens with their columns.
//!
//! The real clients build queries with string formatting, not a grammar, so the tokenizer is
//! deliberately forgiving about spacing: a token ends where the next one can start, never
//! because a space is required. `"x"and key is "k1"` is a string then the word `and`;
//! `username="u"` and `id=3f2a…` split at `=`; `id in (a,b)` splits at `(`, `,` and `)`.
//!
//! There is one kind of bare token, the *word*: a run of anything but whitespace, quotes,
//! parentheses, commas and the operator characters `= ! < >`. Keywords, dotted paths,
//! numbers, unquoted uuids and e-mail-like values (`a.b@c.d`) are all words; the parser
//! decides what a word means from where it stands, so an attribute may share a keyword's
//! name (`TypedContextLink.from`) and a bare value may hold `-`, `.`, `@`, `/`, `:`, `+`.
//!
//! The tokenizer never fails: a character it cannot use (a lone `!`, a control character) or
//! an unterminated string becomes a final [`Tok::Bad`] token, which the parser reports only if
//! it gets that far, so a query's first error is the one reported.

/// One token, with where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// What it is.
    pub(crate) tok: Tok,
    /// 1-based column (in characters) of its first character.
    pub(crate) column: usize,
    /// Byte offset of its first character, for excerpts.
    pub(crate) byte: usize,
}

/// The kinds of token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: keyword, path, number, uuid, any unquoted value.
    Word(String),
    /// A quoted string, escapes resolved.
    Str(String),
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `,`.
    Comma,
    /// A symbolic operator: `=`, `!=`, `<`, `>`, `<=`, `>=`.
    Symbol(&'static str),
    /// Text the tokenizer could not read, with why; always the last token.
    Bad(String),
    /// The end of the query; always the last token when there is no `Bad`.
    End,
}

/// Whether `c` ends a word (and may start another token).
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '(' | ')' | ',' | '=' | '!' | '<' | '>')
}

/// Splits `text` into tokens; the last is always [`Tok::End`] or [`Tok::Bad`].
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    // 1-based column of the character `chars` yields next.
    let mut column = 1;
    while let Some(&(byte, c)) = chars.peek() {
        let start = column;
        chars.next();
        column += 1;
        let mut push = |tok| {
            tokens.push(Token {
                tok,
                column: start,
                byte,
            })
        };
        match c {
            c if c.is_whitespace() => {}
            '(' => push(Tok::Open),
            ')' => push(Tok::Close),
            ',' => push(Tok::Comma),
            '=' => push(Tok::Symbol("=")),
            '!' | '<' | '>' => {
                let followed_by_equals = chars.peek().is_some_and(|&(_, next)| next == '=');
                let symbol = match (c, followed_by_equals) {
                    ('!', true) => "!=",
                    ('<', true) => "<=",
                    ('>', true) => ">=",
                    ('<', false) => "<",
                    ('>', false) => ">",
                    _ => {
                        push(Tok::Bad(
                            "unexpected character '!' (did you mean '!=')".into(),
                        ));
                        return tokens;
                    }
                };
                if followed_by_equals {
                    chars.next();
                    column += 1;
                }
                push(Tok::Symbol(symbol));
            }
            '"' | '\'' => {
                let quote = c;
                let mut content = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    column += 1;
                    if c == quote {
                        closed = true;
                        break;
                    }
                    if c == '\\' {
                        match chars.next() {
                            Some((_, escaped @ ('"' | '\'' | '\\'))) => {
                                column += 1;
                                content.push(escaped);
                            }
                            // Any other backslash is kept as written (Windows paths).
                            Some((_, other)) => {
                                column += 1;
                                content.push('\\');
                                content.push(other);
                            }
                            None => break,
                        }
                    } else {
                        content.push(c);
                    }
                }
                if !closed {
                    push(Tok::Bad(format!("unclosed string (no closing {quote})")));
                    return tokens;
                }
                push(Tok::Str(content));
            }
            c if c.is_control() => {
                push(Tok::Bad(format!(
                    "unexpected control character U+{:04X}",
                    u32::from(c)
                )));
                return tokens;
            }
            first => {
                let mut word = String::from(first);
                while let Some(&(_, c)) = chars.peek() {
                    if is_delimiter(c) || c.is_control() {
                        break;
                    }
                    word.push(c);
                    chars.next();
                    column += 1;
                }
                push(Tok::Word(word));
            }
        }
    }
    tokens.push(Token {
        tok: Tok::End,
        column,
        byte: text.len(),
    });
    tokens
}
