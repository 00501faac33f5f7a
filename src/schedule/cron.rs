//! Cron expressions from the config, validated with tokio-cron-scheduler's parser.

/// Checks a 6-field cron expression (sec min hour day month weekday).
pub fn validate(expr: &str) -> Result<(), String> {
    let fields = expr.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        return Err(format!("`{expr}` has {fields} fields"));
    }
    tokio_cron_scheduler::Job::new_async(expr, |_id, _sched| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| format!("`{expr}` is not a valid cron expression ({e})"))
}
