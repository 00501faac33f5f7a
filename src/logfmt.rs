//! `--log.format logfmt`: one `key=value` line per event, as Prometheus' own components
//! write them (promslog):
//!
//! ```text
//! time=2026-04-14T12:00:00.123Z level=INFO source=clawprobe::cmd::serve msg="clawprobe serving /metrics" listen=0.0.0.0:9847 agents=3
//! ```
//!
//! Why hand-written: tracing-subscriber has a human format and JSON, not logfmt, and the
//! rules are a few lines (quote a value holding a space, `=`, `"` or a control character;
//! escape `"` and `\`). The level is coloured only when asked (`colour`: stderr is a
//! terminal), so journald and container logs never get escape codes.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The logfmt event format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Logfmt {
    /// Colour the level (ANSI escape codes): only for a terminal.
    pub colour: bool,
}

/// Appends `v` as a logfmt value: bare when it can be, else quoted and escaped.
pub fn push_value(out: &mut String, v: &str) {
    let bare = !v.is_empty()
        && v.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=' && c != '\\');
    if bare {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Collects an event's message and fields.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Fields {
    fn add(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
            return;
        }
        self.rest.push(' ');
        // Field names come from the macros: identifiers, maybe dotted. Keep them a key.
        self.rest.extend(field.name().chars().map(|c| {
            if c.is_whitespace() || c == '=' || c == '"' {
                '_'
            } else {
                c
            }
        }));
        self.rest.push('=');
        push_value(&mut self.rest, value);
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.add(field, &format!("{value:?}"));
    }
}

fn level_word(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

fn level_colour(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "\x1b[31m",
        Level::WARN => "\x1b[33m",
        Level::INFO => "\x1b[32m",
        Level::DEBUG => "\x1b[34m",
        Level::TRACE => "\x1b[35m",
    }
}

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = String::with_capacity(128 + fields.message.len() + fields.rest.len());
        line.push_str("time=");
        line.push_str(&chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        line.push_str(" level=");
        if self.colour {
            line.push_str(level_colour(meta.level()));
            line.push_str(level_word(meta.level()));
            line.push_str("\x1b[0m");
        } else {
            line.push_str(level_word(meta.level()));
        }
        line.push_str(" source=");
        push_value(&mut line, meta.target());
        line.push_str(" msg=");
        push_value(&mut line, &fields.message);
        line.push_str(&fields.rest);
        writeln!(w, "{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(colour: bool, f: impl FnOnce()) -> String {
        let buf = Buf::default();
        let w = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || w.clone())
            .with_ansi(colour)
            .event_format(Logfmt { colour })
            .finish();
        tracing::subscriber::with_default(sub, f);
        let out = buf.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values() {
        let v = |s: &str| {
            let mut out = String::new();
            push_value(&mut out, s);
            out
        };
        assert_eq!(v("0.0.0.0:9847"), "0.0.0.0:9847");
        assert_eq!(v(""), "\"\"");
        assert_eq!(v("two words"), "\"two words\"");
        assert_eq!(v("a=b"), "\"a=b\"");
        assert_eq!(v("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
        assert_eq!(v("line\nbreak\x1b"), "\"line\\nbreak\\u{001b}\"");
    }

    #[test]
    fn one_line_per_event() {
        let path = std::path::Path::new("/srv/openclaw.json");
        let out = logged(false, || {
            tracing::warn!(
                file = %path.display(),
                targets = 3,
                why = "a \"quoted\" word",
                "config reload failed, keeping the last good plan: {}",
                "line 4"
            );
        });
        let line = out.strip_suffix('\n').unwrap();
        assert!(!line.contains('\n'), "{out}");
        let (time, rest) = line.split_once(' ').unwrap();
        let time = time.strip_prefix("time=").unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
        assert_eq!(
            rest,
            "level=WARN source=clawprobe::logfmt::tests msg=\"config reload failed, keeping the last good plan: line 4\" file=/srv/openclaw.json targets=3 why=\"a \\\"quoted\\\" word\""
        );
        assert!(!out.contains('\x1b'));
    }

    #[test]
    fn colour_only_when_asked() {
        let out = logged(true, || tracing::error!("boom"));
        assert!(out.contains("level=\x1b[31mERROR\x1b[0m"), "{out:?}");
    }
}
