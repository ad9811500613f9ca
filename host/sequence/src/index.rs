//! An index of a collection: a non-negative integer of any size, as clique's are Python
//! ints (a frame number, or a 45-digit run of digits in a file name).
//!
//! Most fit a `u128` and are kept as one; larger ones as their decimal digits. Both order,
//! count their digits and step by one as the integers they are.

use std::cmp::Ordering;
use std::fmt;

/// A non-negative integer.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Index(Repr);

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Repr {
    Small(u128),
    /// Decimal digits without leading zeros, of a number above `u128::MAX`.
    Large(Box<str>),
}

impl Index {
    /// The index `value`.
    pub fn new(value: u128) -> Index {
        Index(Repr::Small(value))
    }

    /// The number written by `digits` (any Unicode decimal digits, as Python's `int`
    /// reads them; leading zeros allowed). `None` if a character is not a decimal digit or
    /// there is none.
    pub fn parse(digits: &str) -> Option<Index> {
        // Frame numbers: a few ASCII digits, summed without overflow checks.
        if (1..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            let value = digits
                .bytes()
                .fold(0u64, |value, b| value * 10 + u64::from(b - b'0'));
            return Some(Index::new(u128::from(value)));
        }
        let mut value: Option<u128> = Some(0);
        let mut count = 0;
        for c in digits.chars() {
            let digit = decimal_value(c)?;
            count += 1;
            value = value.and_then(|n| n.checked_mul(10)?.checked_add(u128::from(digit)));
        }
        match (count, value) {
            (0, _) => None,
            (_, Some(value)) => Some(Index::new(value)),
            (_, None) => {
                let ascii: String = digits
                    .chars()
                    .filter_map(decimal_value)
                    .map(|digit| char::from(b'0' + digit))
                    .collect();
                Some(Index(Repr::Large(ascii.trim_start_matches('0').into())))
            }
        }
    }

    /// How many decimal digits it has (`len(str(index))`): 1 for 0.
    pub fn digits(&self) -> usize {
        match &self.0 {
            Repr::Small(0) => 1,
            Repr::Small(value) => value.ilog10() as usize + 1,
            Repr::Large(digits) => digits.len(),
        }
    }

    /// The next integer.
    pub fn next(&self) -> Index {
        match &self.0 {
            Repr::Small(value) => match value.checked_add(1) {
                Some(next) => Index::new(next),
                None => Index(Repr::Large(U128_MAX_PLUS_ONE.into())),
            },
            Repr::Large(digits) => {
                let mut bytes = digits.as_bytes().to_vec();
                let mut at = bytes.len();
                loop {
                    if at == 0 {
                        bytes.insert(0, b'1');
                        break;
                    }
                    at -= 1;
                    if bytes[at] == b'9' {
                        bytes[at] = b'0';
                    } else {
                        bytes[at] += 1;
                        break;
                    }
                }
                let text = String::from_utf8(bytes).expect("ASCII digits");
                Index(Repr::Large(text.into()))
            }
        }
    }

    /// The previous integer (`None` for 0).
    pub fn prev(&self) -> Option<Index> {
        match &self.0 {
            Repr::Small(value) => value.checked_sub(1).map(Index::new),
            Repr::Large(digits) => {
                let mut bytes = digits.as_bytes().to_vec();
                let mut at = bytes.len();
                while at > 0 {
                    at -= 1;
                    if bytes[at] == b'0' {
                        bytes[at] = b'9';
                    } else {
                        bytes[at] -= 1;
                        break;
                    }
                }
                let text = String::from_utf8(bytes).expect("ASCII digits");
                Some(Index::parse(&text).expect("digits"))
            }
        }
    }

    /// Written with at least `width` digits, zeros in front (`'{0:0{1}d}'.format(i, w)`).
    pub fn padded(&self, width: usize) -> String {
        format!("{self:0>width$}")
    }
}

/// `u128::MAX + 1`, written out: the only sum [`Index::next`] needs past a `u128`.
const U128_MAX_PLUS_ONE: &str = "340282366920938463463374607431768211456";

impl Ord for Index {
    fn cmp(&self, other: &Index) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Small(a), Repr::Small(b)) => a.cmp(b),
            (Repr::Small(_), Repr::Large(_)) => Ordering::Less,
            (Repr::Large(_), Repr::Small(_)) => Ordering::Greater,
            (Repr::Large(a), Repr::Large(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        }
    }
}

impl PartialOrd for Index {
    fn partial_cmp(&self, other: &Index) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Small(value) => fmt::Display::fmt(value, f),
            Repr::Large(digits) => f.pad(digits),
        }
    }
}

/// The value of a Unicode decimal digit (what `\d` matches: general category Nd), as
/// Python's `int` reads it.
///
/// Decimal digits come in runs of ten, zero first (a Unicode stability guarantee), and
/// runs that touch are still whole tens: a digit's value is its distance from the start of
/// its run of digits, modulo ten. Asked of the same Unicode tables the patterns match with
/// (the `regex` crate's), so whatever a pattern takes for a digit has a value.
pub(crate) fn decimal_value(c: char) -> Option<u8> {
    if c.is_ascii_digit() {
        return Some(c as u8 - b'0');
    }
    if c.is_ascii() || !is_digit(c) {
        return None;
    }
    let mut start = c as u32;
    while let Some(before) = start.checked_sub(1).and_then(char::from_u32) {
        if !is_digit(before) {
            break;
        }
        start -= 1;
    }
    Some(((c as u32 - start) % 10) as u8)
}

pub(crate) fn is_digit(c: char) -> bool {
    static DIGIT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let digit = DIGIT.get_or_init(|| regex::Regex::new(r"^\d$").expect("a valid expression"));
    let mut buffer = [0; 4];
    digit.is_match(c.encode_utf8(&mut buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_indexes_order_count_and_step_as_integers() {
        let max = Index::new(u128::MAX);
        let past = max.next();
        assert_eq!(past.to_string(), "340282366920938463463374607431768211456");
        assert!(max < past);
        assert_eq!(past.digits(), 39);
        assert_eq!(Index::parse(&past.to_string()), Some(past.clone()));
        assert_eq!(
            Index::parse("0099999999999999999999999999999999999999999")
                .unwrap()
                .next()
                .to_string(),
            "100000000000000000000000000000000000000000"
        );
        assert_eq!(Index::new(0).digits(), 1);
        assert_eq!(Index::new(1000).digits(), 4);
        assert_eq!(Index::new(7).padded(4), "0007");
        assert_eq!(Index::parse("0042"), Some(Index::new(42)));
        assert_eq!(Index::parse("\u{0661}\u{0662}"), Some(Index::new(12)));
        assert_eq!(Index::parse("\u{FF11}\u{FF12}"), Some(Index::new(12)));
        assert_eq!(Index::parse("1a"), None);
        assert_eq!(Index::parse(""), None);
    }

    #[test]
    fn unicode_digits_have_their_values() {
        for (text, value) in [
            ("\u{0669}", 9),           // ARABIC-INDIC DIGIT NINE
            ("\u{0966}\u{0967}", 1),   // DEVANAGARI 0 1
            ("\u{FF15}", 5),           // FULLWIDTH DIGIT FIVE
            ("\u{1D7CE}", 0),          // MATHEMATICAL BOLD DIGIT ZERO
            ("\u{1D7D8}\u{1D7E1}", 9), // DOUBLE-STRUCK 0, 9: runs that touch
            ("\u{1D7FF}", 9),          // MATHEMATICAL MONOSPACE DIGIT NINE
        ] {
            assert_eq!(Index::parse(text), Some(Index::new(value)), "{text}");
        }
        assert_eq!(
            decimal_value('\u{00B2}'),
            None,
            "superscript two is no decimal digit"
        );
        assert_eq!(decimal_value('x'), None);
    }
}
