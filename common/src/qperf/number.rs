//! qperf's significant-digit number text (qperf.md §6.3 steps 1–3).

/// C-like fixed formatting; non-finite values print as glibc does.
fn fixed(v: f64, decimals: usize) -> String {
    if v.is_nan() {
        if v.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        }
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{v:.decimals$}")
    }
}

/// Formats `v` to `precision` significant digits the way qperf does:
/// round half-even to integer, count its digits D, and if D < precision
/// reformat with `precision - D` decimals and strip trailing zeros and `.`.
/// No thousands separators (see [`group_thousands`]).
pub fn format_number(v: f64, precision: usize) -> String {
    let whole = fixed(v, 0);
    let digits = whole.chars().filter(|c| c.is_ascii_digit()).count();
    if !v.is_finite() || precision <= digits {
        return whole;
    }
    let mut s = fixed(v, precision - digits);
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// Inserts `,` every three digits into the integer digit run: the digits
/// before a `.`, or the trailing digit run when there is no `.`.
pub fn group_thousands(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let end = chars.iter().position(|&c| c == '.').unwrap_or(chars.len());
    let mut start = end;
    while start > 0 && chars[start - 1].is_ascii_digit() {
        start -= 1;
    }
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    out.extend(&chars[..start]);
    let run = end - start;
    for (i, c) in chars[start..end].iter().enumerate() {
        if i > 0 && (run - i) % 3 == 0 {
            out.push(',');
        }
        out.push(*c);
    }
    out.extend(&chars[end..]);
    out
}
