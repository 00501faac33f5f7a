use super::*;
use std::io::Write;

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// One poll, returning the lines as strings.
fn poll(f: &mut Follower, candidates: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    f.poll(candidates, u64::MAX, &mut |l| {
        out.push(String::from_utf8_lossy(l).into_owned())
    });
    out
}

#[test]
fn starts_at_the_end_then_reads_what_is_appended() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("openclaw-2026-09-06.log");
    append(&log, "old 1\nold 2\n");
    let mut f = Follower::new(false, DEFAULT_MAX_LINE);
    let c = vec![log.clone()];
    assert!(poll(&mut f, &c).is_empty(), "old lines are not replayed");
    assert_eq!(f.following(), Some(log.as_path()));
    append(&log, "new 1\nnew 2\n");
    assert_eq!(poll(&mut f, &c), ["new 1", "new 2"]);
    assert!(poll(&mut f, &c).is_empty());
}

#[test]
fn from_start_replays_the_file() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    append(&log, "one\ntwo\n");
    let mut f = Follower::new(true, DEFAULT_MAX_LINE);
    assert_eq!(poll(&mut f, &[log]), ["one", "two"]);
}

#[test]
fn starting_in_the_middle_of_a_line_skips_its_tail() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    append(&log, "whole\n{\"half\":");
    let mut f = Follower::new(false, DEFAULT_MAX_LINE);
    assert!(poll(&mut f, std::slice::from_ref(&log)).is_empty());
    append(&log, "1}\nnext\n");
    assert_eq!(poll(&mut f, &[log]), ["next"], "the torn line is dropped");
}

#[test]
fn a_partial_last_line_is_completed_later() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    std::fs::write(&log, "").unwrap();
    let mut f = Follower::new(false, DEFAULT_MAX_LINE);
    let c = vec![log.clone()];
    poll(&mut f, &c);
    append(&log, "{\"event\":\"model_fallback");
    assert!(poll(&mut f, &c).is_empty(), "no newline yet: nothing out");
    append(&log, "_decision\"}\nsecond");
    assert_eq!(
        poll(&mut f, &c),
        ["{\"event\":\"model_fallback_decision\"}"]
    );
    append(&log, " line\n");
    assert_eq!(poll(&mut f, &c), ["second line"]);
}

#[test]
fn truncation_is_read_again_from_the_start() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    append(&log, "aaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbb\n");
    let mut f = Follower::new(false, DEFAULT_MAX_LINE);
    let c = vec![log.clone()];
    poll(&mut f, &c);
    // Truncated in place (same inode) and rewritten shorter.
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    append(&log, "after\n");
    assert_eq!(poll(&mut f, &c), ["after"]);
    assert_eq!(f.stats().truncations, 1);
    append(&log, "more\n");
    assert_eq!(poll(&mut f, &c), ["more"]);
}

#[test]
fn a_new_days_file_is_followed_and_late_lines_of_the_old_one_are_not_lost() {
    let d = tempfile::tempdir().unwrap();
    let day1 = d.path().join("openclaw-2026-09-06.log");
    let day2 = d.path().join("openclaw-2026-09-07.log");
    append(&day1, "before start\n");
    let mut f = Follower::new(false, DEFAULT_MAX_LINE);
    assert!(poll(&mut f, std::slice::from_ref(&day1)).is_empty());
    append(&day1, "day1 a\n");
    assert_eq!(poll(&mut f, std::slice::from_ref(&day1)), ["day1 a"]);
    // Midnight: the candidate is the new day's file, which OpenClaw has not written yet.
    assert!(poll(&mut f, std::slice::from_ref(&day2)).is_empty());
    assert_eq!(
        f.following(),
        Some(day1.as_path()),
        "kept until day 2 exists"
    );
    append(&day1, "day1 b\n");
    assert_eq!(poll(&mut f, std::slice::from_ref(&day2)), ["day1 b"]);
    // OpenClaw's first record of the day creates the file: read from its start.
    append(&day2, "day2 a\n");
    append(&day1, "day1 late\n");
    let got = poll(&mut f, std::slice::from_ref(&day2));
    assert_eq!(got, ["day1 late", "day2 a"]);
    assert_eq!(f.following(), Some(day2.as_path()));
    append(&day1, "day1 later\n");
    append(&day2, "day2 b\n");
    assert_eq!(
        poll(&mut f, std::slice::from_ref(&day2)),
        ["day1 later", "day2 b"]
    );
    assert_eq!(f.stats().switches, 1);
    // After a few polls the old file is let go.
    for _ in 0..RETIRE_POLLS {
        poll(&mut f, std::slice::from_ref(&day2));
    }
    append(&day1, "ignored\n");
    assert!(poll(&mut f, &[day2]).is_empty());
}

#[test]
fn size_rotation_renames_the_file_and_the_new_one_is_read_from_its_start() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("openclaw-2026-09-06.log");
    append(&log, "x\n");
    let mut f = Follower::new(false, DEFAULT_MAX_LINE);
    let c = vec![log.clone()];
    poll(&mut f, &c);
    append(&log, "last of old\n");
    // OpenClaw 2026.6+: rename to .1.log, then append to a new file at the same path.
    std::fs::rename(&log, d.path().join("openclaw-2026-09-06.1.log")).unwrap();
    append(&log, "first of new\n");
    assert_eq!(poll(&mut f, &c), ["last of old", "first of new"]);
    append(&log, "second of new\n");
    assert_eq!(poll(&mut f, &c), ["second of new"]);
}

#[test]
fn a_deleted_file_is_let_go_and_a_new_one_read_from_its_start() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    append(&log, "x\n");
    let mut f = Follower::new(false, DEFAULT_MAX_LINE);
    let c = vec![log.clone()];
    poll(&mut f, &c);
    std::fs::remove_file(&log).unwrap();
    assert!(poll(&mut f, &c).is_empty());
    assert_eq!(f.following(), None);
    append(&log, "again\n");
    assert_eq!(
        poll(&mut f, &c),
        ["again"],
        "not the start-up file: read whole"
    );
}

#[test]
fn no_file_at_start_then_one_appears_and_is_read_whole() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    let mut f = Follower::new(false, DEFAULT_MAX_LINE);
    assert!(poll(&mut f, std::slice::from_ref(&log)).is_empty());
    assert_eq!(f.following(), None);
    append(&log, "first\n");
    assert_eq!(poll(&mut f, &[log]), ["first"]);
}

#[test]
fn the_preferred_candidate_wins_once_it_exists() {
    let d = tempfile::tempdir().unwrap();
    let plain = d.path().join("openclaw-2026-09-06.log");
    let profile = d.path().join("openclaw-work-2026-09-06.log");
    append(&plain, "p\n");
    let mut f = Follower::new(false, DEFAULT_MAX_LINE);
    let c = vec![profile.clone(), plain.clone()];
    poll(&mut f, &c);
    assert_eq!(f.following(), Some(plain.as_path()));
    append(&profile, "from the profile\n");
    assert_eq!(poll(&mut f, &c), ["from the profile"]);
    assert_eq!(f.following(), Some(profile.as_path()));
}

#[test]
fn over_long_lines_are_skipped_and_memory_stays_bounded() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    std::fs::write(&log, "").unwrap();
    let max_line = 1000;
    let mut f = Follower::new(false, max_line);
    let c = vec![log.clone()];
    poll(&mut f, &c);
    let long = "z".repeat(3 * CHUNK);
    append(&log, &format!("ok 1\n{long}\nok 2\n"));
    assert_eq!(poll(&mut f, &c), ["ok 1", "ok 2"]);
    // A long line split across polls.
    append(&log, &"y".repeat(800));
    poll(&mut f, &c);
    append(&log, &"y".repeat(800));
    poll(&mut f, &c);
    append(&log, "\nok 3\n");
    assert_eq!(poll(&mut f, &c), ["ok 3"]);
    assert_eq!(f.stats().long_lines, 2);
    assert!(
        f.stats().peak_buffered <= CHUNK + max_line,
        "{}",
        f.stats().peak_buffered
    );
}

#[test]
fn the_byte_limit_splits_a_big_backlog_over_polls() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    let line = format!("{}\n", "l".repeat(99));
    append(&log, &line.repeat(2000)); // 200 kB
    let mut f = Follower::new(true, DEFAULT_MAX_LINE);
    let mut n = 0;
    let out = f.poll(std::slice::from_ref(&log), CHUNK as u64, &mut |_| n += 1);
    assert!(out.more);
    assert!(n < 2000);
    while f
        .poll(std::slice::from_ref(&log), CHUNK as u64, &mut |_| n += 1)
        .more
    {}
    assert_eq!(n, 2000);
}

/// The file descriptor's access mode, from `/proc/self/fdinfo` (Linux).
fn access_mode(file: &File) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).ok()?;
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?.trim();
    Some(u32::from_str_radix(flags, 8).ok()? & libc::O_ACCMODE as u32)
}

#[test]
fn files_are_opened_read_only_and_never_changed() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    append(&log, "x\n");
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = (
        std::fs::read(&log).unwrap(),
        log.metadata().unwrap().modified().unwrap(),
    );
    let mut f = Follower::new(true, DEFAULT_MAX_LINE);
    assert_eq!(poll(&mut f, std::slice::from_ref(&log)), ["x"]);
    if let Some(mode) = access_mode(f.current_file().unwrap()) {
        assert_eq!(mode, libc::O_RDONLY as u32, "opened for reading only");
    }
    let after = (
        std::fs::read(&log).unwrap(),
        log.metadata().unwrap().modified().unwrap(),
    );
    assert_eq!(before, after);
    let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "nothing created next to the log");
}
