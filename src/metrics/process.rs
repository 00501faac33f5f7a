//! The exporter's own process: the standard `process_*` metrics every Prometheus client
//! library exports (same names, units and meanings as client_golang's process collector, so
//! the usual dashboards and alerts work), and `clawprobe_build_info`.
//!
//! Linux only, read from `/proc/self` at render time (two small reads, ~7 µs); on other
//! systems the `process_*` families are absent rather than wrong. A shared `/metrics` body
//! can be reused for a few seconds (see `Metrics::render_cached`), so these values are
//! that fresh.

use super::text::Exposition;
use crate::build_info;

/// `clawprobe_build_info{version,revision,rustversion,builddate} 1`.
pub(super) fn write_build_info(e: &mut Exposition) {
    e.family(
        "clawprobe_build_info",
        "gauge",
        "clawprobe build information (version, git revision, rustc version, build date UTC); always 1.",
    );
    // Label-safe by construction (build.rs; checked in build_info's tests): no escaping.
    e.sample(
        &[
            ("builddate", build_info::BUILD_DATE),
            ("revision", build_info::REVISION),
            ("rustversion", build_info::RUST_VERSION),
            ("version", build_info::VERSION),
        ],
        1.0,
    );
}

/// What `/proc/self/stat` says, in the units the metrics use.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stat {
    /// User + system CPU time, seconds.
    cpu_seconds: f64,
    /// Start time, seconds after boot.
    start_after_boot: f64,
    virtual_bytes: f64,
    resident_bytes: f64,
}

/// Parses `/proc/<pid>/stat` (proc(5)). The command name (field 2) is in parentheses and
/// may hold spaces and parentheses itself, so fields are counted after the last `)`.
fn parse_stat(text: &str, ticks_per_second: f64, page_size: f64) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // rest starts at field 3 (state): field n is at index n - 3.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |n: usize| f.get(n - 3)?.parse::<f64>().ok();
    Some(Stat {
        cpu_seconds: (num(14)? + num(15)?) / ticks_per_second,
        start_after_boot: num(22)? / ticks_per_second,
        virtual_bytes: num(23)?,
        resident_bytes: num(24)? * page_size,
    })
}

/// The boot time (`btime`, Unix seconds) from `/proc/stat`.
fn parse_boot_time(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(target_os = "linux")]
fn sysconf(name: libc::c_int) -> Option<f64> {
    // SAFETY: sysconf only reads a system constant.
    let v = unsafe { libc::sysconf(name) };
    (v > 0).then_some(v as f64)
}

/// `process_*`, read now. Nothing is written if `/proc/self/stat` cannot be read.
#[cfg(target_os = "linux")]
pub(super) fn write(e: &mut Exposition) {
    use std::sync::OnceLock;
    let ticks = sysconf(libc::_SC_CLK_TCK).unwrap_or(100.0);
    let page = sysconf(libc::_SC_PAGESIZE).unwrap_or(4096.0);
    let Some(stat) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| parse_stat(&t, ticks, page))
    else {
        return;
    };
    // Boot time does not change: read once.
    static BOOT: OnceLock<Option<f64>> = OnceLock::new();
    let boot = *BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| parse_boot_time(&t))
    });
    e.family(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    );
    e.sample(&[], stat.cpu_seconds);
    if let Some(n) = std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count) {
        e.family(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
        );
        // Less the descriptor read_dir itself held open while counting.
        e.sample(&[], n.saturating_sub(1) as f64);
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        e.family(
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
        );
        e.sample(&[], limit.rlim_cur as f64);
    }
    e.family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    e.sample(&[], stat.resident_bytes);
    if let Some(boot) = boot {
        e.family(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
        );
        e.sample(&[], boot + stat.start_after_boot);
    }
    e.family(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
    );
    e.sample(&[], stat.virtual_bytes);
}

/// Not Linux: no `/proc`, no `process_*` (absent rather than wrong).
#[cfg(not(target_os = "linux"))]
pub(super) fn write(_: &mut Exposition) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A real line, with a command name holding a space and a parenthesis.
        let line = "4242 (claw) probe) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 130 0 0 20 0 9 0 123456 104857600 3072 18446744073709551615 1 1 0 0 0 0 0 4096 1260 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_stat(line, 100.0, 4096.0).unwrap();
        assert_eq!(
            s,
            Stat {
                cpu_seconds: 3.8,
                start_after_boot: 1234.56,
                virtual_bytes: 104_857_600.0,
                resident_bytes: 3072.0 * 4096.0,
            }
        );
        assert_eq!(parse_stat("4242 (x) S 1 2", 100.0, 4096.0), None);
        assert_eq!(parse_stat("garbage", 100.0, 4096.0), None);
    }

    #[test]
    fn boot_time() {
        let text = "cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n";
        assert_eq!(parse_boot_time(text), Some(1.7e9));
        assert_eq!(parse_boot_time("cpu 1\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process() {
        let mut e = Exposition::with_capacity(1024);
        write(&mut e);
        let out = e.finish();
        let v = |name: &str| {
            crate::metrics::text::sample(&out, name, "")
                .unwrap_or_else(|| panic!("no {name}:\n{out}"))
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = v("process_start_time_seconds");
        assert!(start > now - 24.0 * 3600.0 && start <= now + 1.0, "{start}");
        assert!(v("process_resident_memory_bytes") > 1e6, "{out}");
        assert!(v("process_virtual_memory_bytes") >= v("process_resident_memory_bytes"));
        assert!(v("process_cpu_seconds_total") > 0.0, "{out}");
        let open = v("process_open_fds");
        assert!(open >= 3.0 && open <= v("process_max_fds"), "{out}");
        assert!(out.contains("# TYPE process_cpu_seconds_total counter\n"));
    }
}
