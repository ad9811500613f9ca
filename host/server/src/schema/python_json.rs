//! Python's `json.dumps(value, sort_keys=True)`, byte for byte.
//!
//! ftrack's clients hash the schemas as
//! `hashlib.md5(json.dumps(schemas, sort_keys=True).encode("utf-8")).hexdigest()` and compare
//! that with the server's `schema_hash`, so the server must produce the very same text:
//! - separators `", "` and `": "`, no newlines;
//! - object keys sorted by code point (what Python's `sorted` does with `str`; UTF-8 byte
//!   order is the same order);
//! - `ensure_ascii`: `"` and `\` escaped, `\n \r \t \b \f` by name, other control
//!   characters, DEL and everything beyond ASCII as lowercase `\uXXXX` (two, a surrogate
//!   pair, beyond U+FFFF);
//! - integers as written; floats as Python's `repr` (shortest round-trip digits, `1.0`,
//!   `1e-05`, `1e+16`);
//! - `true`, `false`, `null`.
//!
//! Limit: integers beyond 64 bits (which serde_json without `arbitrary_precision` reads as
//! floats) print as floats, where Python keeps them exact.

use std::fmt::Write;

use serde_json::{Number, Value};

/// `json.dumps(value, sort_keys=True)` as Python prints it (see the module docs).
pub fn python_json_dumps_sorted(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_number(out: &mut String, number: &Number) {
    if let Some(i) = number.as_i64() {
        write!(out, "{i}").expect("writing to a String");
    } else if let Some(u) = number.as_u64() {
        write!(out, "{u}").expect("writing to a String");
    } else {
        out.push_str(&python_float_repr(number.as_f64().unwrap_or(f64::NAN)));
    }
}

/// Python's `repr(float)` (and so `json.dumps` of a float): the shortest digits that read back
/// as the same float (the closest such digits, ties to an even last digit, as Python's `dtoa`
/// chooses), in positional form when the decimal exponent is in -4..16, else as `d.ddde±XX`;
/// `.0` is added to whole numbers in positional form.
pub(crate) fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value == 0.0 {
        return format!("{sign}0.0");
    }
    let Decimal { digits, decpt } = shortest_digits(value.abs());
    let digits: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let count = digits.len() as i32;
    let body = if decpt <= -4 || decpt > 16 {
        let exponent = decpt - 1;
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{first}{fraction}e{exp_sign}{:02}", exponent.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt >= count {
        format!("{digits}{}.0", "0".repeat((decpt - count) as usize))
    } else {
        let (whole, fraction) = digits.split_at(decpt as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{body}")
}

/// A positive decimal `0.<digits> × 10^decpt` (Python's `decpt`), first digit non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal {
    digits: Vec<u8>,
    decpt: i32,
}

impl Decimal {
    /// From Rust's `{:e}` text of a positive float: `1.2345e-7`.
    fn from_scientific(text: &str) -> Decimal {
        let (mantissa, exponent) = text.split_once('e').expect("`{:e}` has an exponent");
        let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
        let digits = mantissa
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        Decimal {
            digits,
            decpt: exponent + 1,
        }
        .trimmed()
    }

    fn trimmed(mut self) -> Decimal {
        while self.digits.len() > 1 && self.digits.last() == Some(&0) {
            self.digits.pop();
        }
        self
    }

    fn compare(&self, other: &Decimal) -> std::cmp::Ordering {
        self.decpt.cmp(&other.decpt).then_with(|| {
            let len = self.digits.len().max(other.digits.len());
            let at = |d: &[u8], i: usize| d.get(i).copied().unwrap_or(0);
            (0..len)
                .map(|i| at(&self.digits, i).cmp(&at(&other.digits, i)))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    }

    /// The next number up with as many significant digits (the last one + 1).
    fn step_up(&self) -> Decimal {
        let mut digits = self.digits.clone();
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                return Decimal {
                    digits,
                    decpt: self.decpt + 1,
                };
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                return Decimal {
                    digits,
                    decpt: self.decpt,
                };
            }
        }
    }

    /// The next number down with as many significant digits (`100` → `99.9`).
    fn step_down(&self) -> Decimal {
        let mut digits = self.digits.clone();
        let mut i = digits.len();
        while i > 0 {
            i -= 1;
            if digits[i] == 0 {
                digits[i] = 9;
            } else {
                digits[i] -= 1;
                break;
            }
        }
        if digits[0] != 0 {
            return Decimal {
                digits,
                decpt: self.decpt,
            };
        }
        digits.remove(0);
        digits.push(9);
        Decimal {
            digits,
            decpt: self.decpt - 1,
        }
    }

    fn to_f64(&self) -> f64 {
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        format!("0.{digits}e{}", self.decpt)
            .parse()
            .expect("a decimal reads as a float")
    }
}

/// Python's shortest round-trip digits of a positive finite float. Rust's `{:e}` gives the
/// same number of digits, but where two such digit strings are equally close to the float it
/// may pick the other one; Python picks the even last digit. The float's exact decimal value
/// (`{:.800e}`: every f64 has at most 767 significant digits) settles it.
fn shortest_digits(value: f64) -> Decimal {
    let shortest = Decimal::from_scientific(&format!("{value:e}"));
    let exact = Decimal::from_scientific(&format!("{value:.800e}"));
    let (lower, upper) = match shortest.compare(&exact) {
        std::cmp::Ordering::Equal => return shortest,
        std::cmp::Ordering::Greater => (shortest.step_down(), shortest.clone()),
        std::cmp::Ordering::Less => (shortest.clone(), shortest.step_up()),
    };
    let other = if lower == shortest { &upper } else { &lower };
    if other.to_f64() != value {
        return shortest;
    }
    // Both round-trip: the closer wins, a tie goes to the even last digit.
    let mut midpoint = lower.clone();
    midpoint.digits.push(5);
    let chosen = match exact.compare(&midpoint) {
        std::cmp::Ordering::Less => lower,
        std::cmp::Ordering::Greater => upper,
        std::cmp::Ordering::Equal => {
            if lower.digits.last().is_some_and(|d| d % 2 == 0) {
                lower
            } else {
                upper
            }
        }
    };
    chosen.trimmed()
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(out, "\\u{unit:04x}").expect("writing to a String");
                }
            }
        }
    }
    out.push('"');
}
