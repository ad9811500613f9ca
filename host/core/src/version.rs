//! How ftrack orders version strings: plugin folders (`my-tools-1.10.0` is newer than
//! `my-tools-1.9.2`) and installed applications (newest first) both sort by it.

use std::cmp::Ordering;

/// Compares two version strings such as `1.10.0` and `1.9.2`, part by part numerically.
///
/// Parts are separated by dots; missing parts count as `0` (`1.2` == `1.2.0` < `1.2.1`), as
/// does an empty string. Numbers of any length are compared without overflow. A part may
/// carry a pre-release suffix (`0rc1`, `0b2`), which sorts before the bare number
/// (`1.0.0rc1` < `1.0.0`); suffixes compare by their letters, then their number.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (l, r) => {
                let order = compare_version_parts(l.unwrap_or("0"), r.unwrap_or("0"));
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// Compares one dot-separated version part: its leading number, then any suffix.
fn compare_version_parts(a: &str, b: &str) -> Ordering {
    let (a_num, a_suffix) = split_leading_digits(a);
    let (b_num, b_suffix) = split_leading_digits(b);
    compare_numbers(a_num, b_num).then_with(|| match (a_suffix.is_empty(), b_suffix.is_empty()) {
        (true, true) => Ordering::Equal,
        // A release sorts after its pre-releases.
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            let (a_tag, a_rest) = split_leading(a_suffix, |c| !c.is_ascii_digit());
            let (b_tag, b_rest) = split_leading(b_suffix, |c| !c.is_ascii_digit());
            let (a_n, a_tail) = split_leading_digits(a_rest);
            let (b_n, b_tail) = split_leading_digits(b_rest);
            a_tag
                .cmp(b_tag)
                .then_with(|| compare_numbers(a_n, b_n))
                .then_with(|| a_tail.cmp(b_tail))
        }
    })
}

/// Compares two strings of ASCII digits as numbers (empty counts as zero).
fn compare_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn split_leading_digits(s: &str) -> (&str, &str) {
    split_leading(s, |c| c.is_ascii_digit())
}

fn split_leading(s: &str, keep: impl Fn(char) -> bool) -> (&str, &str) {
    let end = s.find(|c: char| !keep(c)).unwrap_or(s.len());
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_versions_numerically() {
        use Ordering::*;
        let cases = [
            ("1.10.0", "1.9.2", Greater),
            ("1.2", "1.2.1", Less),
            ("1.2", "1.2.0", Equal),
            ("2.0", "10.0", Less),
            ("1.0.0", "1.0.0", Equal),
            ("010.1", "10.1", Equal),
            ("24.0.0rc1", "24.0.0", Less),
            ("24.0.0rc2", "24.0.0rc1", Greater),
            ("24.0.0rc10", "24.0.0rc9", Greater),
            ("24.0.0b1", "24.0.0rc1", Less),
            ("24.0.1rc1", "24.0.0", Greater),
            ("99999999999999999999999999.0", "9.0", Greater),
            ("", "0.0.0", Equal),
            ("", "0.0.1", Less),
            ("x", "0", Less),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare_versions(a, b), expected, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), expected.reverse(), "{b} vs {a}");
        }
    }
}
