//! Prometheus text exposition (format 0.0.4), written straight into one `String`.
//!
//! Why not the `prometheus` crate's `Registry` + `TextEncoder`: at 10k series that path
//! built a metric object per series, copied each into protobuf structs on `gather()` and
//! then again into text: 6–7 µs and a dozen allocations per series, and several copies of
//! the whole exposition alive at once (BENCHMARKS.md, F1 and F2). Here a sample is a few
//! `push_str`s of label values that were sanitised and escaped once, into the one buffer
//! that is then served.
//!
//! A family with no samples is left out entirely (no HELP/TYPE without samples), as the
//! crate's encoder did. Families appear in the order they are written.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An exposition being written, family by family.
pub struct Exposition {
    out: String,
    /// Where the current family's HELP line starts, to drop the header if no sample follows.
    header_at: usize,
    /// Whether the current family has a sample yet.
    has_samples: bool,
    name: &'static str,
}

impl Exposition {
    pub fn with_capacity(capacity: usize) -> Self {
        Exposition {
            out: String::with_capacity(capacity),
            header_at: 0,
            has_samples: true,
            name: "",
        }
    }

    /// Starts a family; every sample until the next call belongs to it. Each name must be
    /// started once: the format wants a family's lines together.
    pub fn family(&mut self, name: &'static str, kind: &'static str, help: &str) {
        self.end_family();
        self.header_at = self.out.len();
        self.has_samples = false;
        self.name = name;
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn end_family(&mut self) {
        if !self.has_samples {
            self.out.truncate(self.header_at);
        }
    }

    /// A sample `name{labels} value`. `labels` are written in the order given (we keep
    /// them sorted by name, as the `prometheus` crate did) and must already be escaped
    /// with [`escape`].
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        self.sample_suffixed("", labels, None, value);
    }

    /// A sample with an integer value (counters): no float formatting on the hot path.
    pub fn sample_u64(&mut self, labels: &[(&str, &str)], value: u64) {
        self.name_labels("", labels, None);
        push_u64(&mut self.out, value);
        self.out.push('\n');
    }

    /// A sample whose label block (braces included) the caller assembled from `pieces`,
    /// so parts shared by many lines are built once: a state set writes 13 lines per
    /// chain entry that differ only in `class`. Values must be escaped with [`escape`].
    pub fn sample_pieces(&mut self, pieces: &[&str], value: u64) {
        self.has_samples = true;
        self.out.push_str(self.name);
        for p in pieces {
            self.out.push_str(p);
        }
        self.out.push(' ');
        push_u64(&mut self.out, value);
        self.out.push('\n');
    }

    /// A sample of a histogram's `_bucket`/`_sum`/`_count` series; `le` is appended last.
    pub fn sample_suffixed(
        &mut self,
        suffix: &str,
        labels: &[(&str, &str)],
        le: Option<&str>,
        value: f64,
    ) {
        self.name_labels(suffix, labels, le);
        write_f64(&mut self.out, value);
        self.out.push('\n');
    }

    fn name_labels(&mut self, suffix: &str, labels: &[(&str, &str)], le: Option<&str>) {
        self.has_samples = true;
        let out = &mut self.out;
        out.push_str(self.name);
        out.push_str(suffix);
        if !labels.is_empty() || le.is_some() {
            out.push('{');
            let mut first = true;
            for (k, v) in labels.iter().copied().chain(le.map(|v| ("le", v))) {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(k);
                out.push_str("=\"");
                out.push_str(v);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
    }

    /// The finished text.
    pub fn finish(mut self) -> String {
        self.end_family();
        self.out
    }
}

/// Writes a sample value the way Prometheus reads it: integers without a fraction,
/// `+Inf`/`-Inf`/`NaN` spelled as the format requires, everything else in Rust's shortest
/// round-trip form.
pub fn write_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        if v < 0.0 {
            out.push('-');
        }
        push_u64(out, v.abs() as u64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Appends the decimal digits of `n`. Most samples are 0/1 state-set values, counters and
/// whole-second timestamps; `fmt` machinery for each was a visible share of a render.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).expect("ASCII digits"));
}

/// Escapes a label value: backslash, double quote and newline, per the text format.
pub fn escape(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut s = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    Cow::Owned(s)
}

/// Escapes HELP text: backslash and newline.
fn escape_help(help: &str) -> Cow<'_, str> {
    if !help.contains(['\\', '\n']) {
        return Cow::Borrowed(help);
    }
    Cow::Owned(help.replace('\\', "\\\\").replace('\n', "\\n"))
}

/// Reads one sample back: the value of `name{labels}` in an exposition (labels as
/// `k="v",…` in any order, `""` for none). The inverse of [`Exposition`] for tests, the
/// integration harness and tools; label values with `",` inside are not supported.
pub fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let want = label_set(labels);
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        let (n, block) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        (n == name && label_set(block) == want).then(|| value.parse().ok())?
    })
}

fn label_set(block: &str) -> std::collections::BTreeMap<&str, &str> {
    block
        .split("\",")
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k, v.trim_matches('"')))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_headers_and_escaping() {
        let mut e = Exposition::with_capacity(0);
        e.family("x_gauge", "gauge", "Help with \\ and\nnewline.");
        e.sample(&[("a", &escape("q\"uo\\te\n")), ("b", "2")], 1.5);
        e.sample(&[], 3.0);
        e.family("m_empty", "gauge", "E.");
        e.family("a_hist", "histogram", "H.");
        e.sample_suffixed("_bucket", &[("p", "x")], Some("+Inf"), 2.0);
        e.sample_suffixed("_sum", &[("p", "x")], None, 0.25);
        e.family("c_total", "counter", "C.");
        e.sample_u64(&[("k", "v")], 42);
        e.sample_pieces(&["{k=\"", "w", "\"}"], 7);
        e.family("z_empty_last", "gauge", "E.");
        assert_eq!(
            e.finish(),
            "# HELP x_gauge Help with \\\\ and\\nnewline.\n# TYPE x_gauge gauge\n\
             x_gauge{a=\"q\\\"uo\\\\te\\n\",b=\"2\"} 1.5\nx_gauge 3\n\
             # HELP a_hist H.\n# TYPE a_hist histogram\n\
             a_hist_bucket{p=\"x\",le=\"+Inf\"} 2\na_hist_sum{p=\"x\"} 0.25\n\
             # HELP c_total C.\n# TYPE c_total counter\nc_total{k=\"v\"} 42\nc_total{k=\"w\"} 7\n"
        );
    }

    #[test]
    fn values() {
        let f = |v: f64| {
            let mut s = String::new();
            write_f64(&mut s, v);
            s
        };
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-3.0), "-3");
        assert_eq!(f(1_764_270_000.0), "1764270000");
        assert_eq!(f(1_764_270_000.125), "1764270000.125");
        assert_eq!(f(0.05), "0.05");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(999_999_999_999_999.0), "999999999999999");
        let mut s = String::new();
        for n in [0u64, 7, 10, 12_345, u64::MAX] {
            s.clear();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        for v in [0.1, 123.456, 1e-7, 9.99e14, 2.5e17] {
            assert_eq!(f(v).parse::<f64>().unwrap(), v);
        }
    }
}
