//! Reading OpenClaw's log costs bounded memory whatever the file size: a 100 MB log (the
//! size at which OpenClaw 2026.6+ rotates) of real CLI lines is followed, parsed and folded
//! while a counting allocator records the peak of live heap bytes. Measured, not timed.

use clawprobe::plan::{AgentChain, ChainEntry, ProbePlan};
use clawprobe::traffic::event::parse_line;
use clawprobe::traffic::follow::{Follower, CHUNK, DEFAULT_MAX_LINE};
use clawprobe::traffic::TrafficState;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn fixture_log() -> String {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openclaw-logs/cli-2026.9.6");
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("openclaw-2") && n.ends_with(".log")
        })
        .expect("the 2026.9.6 CLI log");
    std::fs::read_to_string(log).unwrap()
}

fn fixture_plan() -> ProbePlan {
    let mut p = ProbePlan::default();
    for (id, chain) in [
        (
            "main",
            &["ratelimited/gpt-rl", "broke/gpt-broke", "healthy/gpt-ok"][..],
        ),
        ("doomed", &["revoked/gpt-auth", "broke/gpt-broke"][..]),
        ("coder", &["flaky/gpt-500", "healthy/gpt-ok"][..]),
    ] {
        let entries = chain
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let (prov, model) = r.split_once('/').unwrap();
                ChainEntry {
                    provider: Some(prov.into()),
                    model: Some(model.into()),
                    ..ChainEntry::new(i, r.to_string())
                }
            })
            .collect();
        p.agents.push(AgentChain {
            agent: id.into(),
            entries,
        });
    }
    p
}

#[test]
fn a_100_mb_log_is_read_with_bounded_memory() {
    const SIZE: u64 = 100 * 1024 * 1024;
    let text = fixture_log();
    let per_copy_events = text
        .lines()
        .filter(|l| parse_line(l.as_bytes()).unwrap().is_some())
        .count() as u64;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openclaw-2026-11-30.log");
    let mut copies = 0u64;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut written = 0u64;
        while written < SIZE {
            f.write_all(text.as_bytes()).unwrap();
            written += text.len() as u64;
            copies += 1;
        }
    }
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size >= SIZE);
    let plan = fixture_plan();
    let mut state = TrafficState::new(&plan, Duration::from_secs(900));
    drop(text);

    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let mut follower = Follower::new(true, DEFAULT_MAX_LINE);
    let (mut lines, mut events) = (0u64, 0u64);
    let candidates = [path.clone()];
    loop {
        let out = follower.poll(&candidates, 8 * 1024 * 1024, &mut |line| {
            lines += 1;
            if let Ok(Some(e)) = parse_line(line) {
                events += 1;
                state.apply(&e, UNIX_EPOCH);
            }
        });
        if !out.more {
            break;
        }
    }
    let peak = PEAK.load(Ordering::Relaxed) - baseline;

    assert_eq!(follower.stats().bytes_read, size);
    assert_eq!(events, copies * per_copy_events);
    assert!(lines > 100_000, "{lines}");
    assert_eq!(state.exhausted("doomed"), copies);
    // The follower's own buffers: one read chunk and one partial line.
    let buffered = follower.stats().peak_buffered;
    assert!(buffered <= CHUNK + DEFAULT_MAX_LINE, "buffered {buffered}");
    // Everything that lives while reading: those buffers, a parsed line, the state's few
    // series.
    let bound = CHUNK + DEFAULT_MAX_LINE + 512 * 1024;
    eprintln!(
        "100 MB log: {size} bytes, {lines} lines, {events} events; peak heap above baseline \
         {peak} bytes (bound {bound}); follower buffers peak {buffered} bytes"
    );
    assert!(peak <= bound, "peak heap growth {peak} > {bound}");
}
