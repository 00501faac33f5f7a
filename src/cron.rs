//! Cron expressions from the config, validated with tokio-cron-scheduler's parser.
//!
//! A leaf module: the config validates its expressions here and the scheduler computes
//! ticks here, so the config needs nothing from the scheduler. The scheduler also needs the *next* tick of an expression: the time until it sizes the
//! window a cycle's probes are spread across. That uses `croner`, the parser
//! tokio-cron-scheduler itself is built on, with the same options, so both agree.

use chrono::{DateTime, Utc};
use std::time::{Duration, SystemTime};

/// Why a cron expression was refused. The message quotes the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("`{expr}` has {fields} fields")]
    FieldCount { expr: String, fields: usize },
    #[error("`{expr}` is not a valid cron expression ({reason})")]
    Invalid { expr: String, reason: String },
}

/// Checks a 6-field cron expression (sec min hour day month weekday).
pub fn validate(expr: &str) -> Result<(), CronError> {
    let fields = expr.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        return Err(CronError::FieldCount {
            expr: expr.to_string(),
            fields,
        });
    }
    tokio_cron_scheduler::Job::new_async(expr, |_id, _sched| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| CronError::Invalid {
            expr: expr.to_string(),
            reason: e.to_string(),
        })
}

fn parse(expr: &str) -> Option<croner::Cron> {
    if expr.trim().is_empty() {
        return None;
    }
    croner::Cron::new(expr)
        .with_seconds_required()
        .with_dom_and_dow()
        .parse()
        .ok()
}

/// The first tick of `expr` strictly after `after` (UTC). `None` for `""` (disabled), an
/// invalid expression, or one that never fires again.
pub fn next_tick(expr: &str, after: SystemTime) -> Option<SystemTime> {
    let cron = parse(expr)?;
    let after: DateTime<Utc> = after.into();
    cron.find_next_occurrence(&after, false)
        .ok()
        .map(SystemTime::from)
}

/// Time from `now` to the next tick of `expr`, if it has one.
pub fn until_next_tick(expr: &str, now: SystemTime) -> Option<Duration> {
    next_tick(expr, now).map(|t| t.duration_since(now).unwrap_or(Duration::ZERO))
}

/// How many ticks of `expr` fall in `(from, to]`, capped at `cap` so a per-second
/// expression cannot make this loop long.
pub fn ticks_between(expr: &str, from: SystemTime, to: SystemTime, cap: u64) -> u64 {
    let Some(cron) = parse(expr) else { return 0 };
    let from: DateTime<Utc> = from.into();
    let to: DateTime<Utc> = to.into();
    let mut n = 0;
    for t in cron.iter_after(from) {
        if t > to || n >= cap {
            break;
        }
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn next_tick_of_five_minute_metadata() {
        // 1970-01-01T00:01:00Z → next "0 */5 * * * *" tick is 00:05:00.
        assert_eq!(next_tick("0 */5 * * * *", at(60)), Some(at(300)));
        // Strictly after: at a tick, the next one is 5 minutes later.
        assert_eq!(next_tick("0 */5 * * * *", at(300)), Some(at(600)));
        assert_eq!(
            until_next_tick("0 */5 * * * *", at(290)),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn disabled_and_invalid_have_no_tick() {
        assert_eq!(next_tick("", at(0)), None);
        assert_eq!(next_tick("every five minutes", at(0)), None);
    }

    #[test]
    fn counts_ticks_in_a_day() {
        let day = 86_400;
        assert_eq!(ticks_between("30 7 * * * *", at(0), at(day), 1000), 24);
        assert_eq!(ticks_between("45 17 */6 * * *", at(0), at(day), 1000), 4);
        assert_eq!(ticks_between("0 */5 * * * *", at(0), at(day), 1000), 288);
        assert_eq!(ticks_between("* * * * * *", at(0), at(day), 50), 50);
        assert_eq!(ticks_between("", at(0), at(day), 50), 0);
    }
}
