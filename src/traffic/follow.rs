//! A read-only follower of OpenClaw's log files: complete lines out, nothing else kept.
//!
//! Plain `std` and synchronous, so it is tested without tokio; the async shell calls
//! [`Follower::poll`] on a blocking thread every poll interval with the candidate paths of
//! the moment (see `locate.rs`). One poll:
//!
//! 1. drains files it retired recently (a day's file keeps getting OpenClaw's last queued
//!    records for a moment after midnight; a size-rotated file is renamed, not reopened);
//! 2. reads the current file to its end (or to the per-poll byte limit);
//! 3. switches files: a different candidate now exists (new day, profile file appeared),
//!    the path now names a new file (OpenClaw's size rotation renames the old one to
//!    `.1.log` and starts a new one), or the file shrank (truncated: read again from 0).
//!    A file that stops existing is retired; with no candidate existing yet (just after
//!    midnight, before OpenClaw's first record of the day) the current file is kept.
//!
//! The first file found at start-up is read from its end (no replay of old traffic unless
//! `from_start`); every file found later is read from its start, since all of it is new.
//!
//! Memory is bounded whatever the file size: one fixed read buffer ([`CHUNK`]) plus, per
//! open file, one partial line of at most `max_line` bytes. A longer line (none of
//! OpenClaw's is: it clamps messages to 4 KiB) is skipped to its newline and counted.
//! [`FollowStats::peak_buffered`] records the high-water mark, and the 100 MB test asserts
//! it.
//!
//! Files are opened with `O_RDONLY` only (`OpenOptions::new().read(true)`): no write,
//! create, truncate or lock, and nothing is ever written next to them.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Size of the one read buffer.
pub const CHUNK: usize = 64 * 1024;

/// Default longest line kept (OpenClaw's lines are a few KiB).
pub const DEFAULT_MAX_LINE: usize = 256 * 1024;

/// How many polls a retired file is still drained for.
const RETIRE_POLLS: u32 = 3;

/// Counters describing what the follower did (for tests and debug logs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FollowStats {
    pub bytes_read: u64,
    pub lines: u64,
    /// Lines longer than `max_line`, skipped.
    pub long_lines: u64,
    /// Times the current file shrank and was read again from the start.
    pub truncations: u64,
    /// Times the follower moved to another file (new day, rotation, profile file).
    pub switches: u64,
    /// Largest number of bytes held at once (read buffer + partial lines).
    pub peak_buffered: usize,
}

struct Open {
    file: File,
    path: PathBuf,
    /// (device, inode): a different pair at the same path is a new file.
    id: (u64, u64),
    pos: u64,
    /// The start of a line whose newline has not been read yet.
    pending: Vec<u8>,
    /// Inside an over-long (or, at start-up, partial) line: drop bytes up to its newline.
    discarding: bool,
}

impl Open {
    fn new(path: &Path, at_end: bool) -> std::io::Result<Open> {
        // Read-only: the one place a log file is opened.
        let mut file = OpenOptions::new().read(true).open(path)?;
        let meta = file.metadata()?;
        let mut pos = 0;
        let mut discarding = false;
        if at_end && meta.len() > 0 {
            pos = meta.len();
            // Started in the middle of a line (a record being written): skip its tail.
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(pos - 1))?;
            file.read_exact(&mut last)?;
            discarding = last[0] != b'\n';
        }
        file.seek(SeekFrom::Start(pos))?;
        Ok(Open {
            file,
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
            pos,
            pending: Vec::new(),
            discarding,
        })
    }
}

/// What one poll found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollOutcome {
    /// The file being followed after this poll, if any.
    pub following: Option<PathBuf>,
    /// The byte limit stopped the read before the end: poll again soon.
    pub more: bool,
}

/// Follows OpenClaw's current log file. See the module docs.
pub struct Follower {
    current: Option<Open>,
    retiring: Vec<(Open, u32)>,
    chunk: Vec<u8>,
    started: bool,
    from_start: bool,
    max_line: usize,
    stats: FollowStats,
}

impl Follower {
    /// A follower that starts at the end of the first file it finds (`from_start`: at its
    /// start) and keeps lines up to `max_line` bytes.
    pub fn new(from_start: bool, max_line: usize) -> Follower {
        Follower {
            current: None,
            retiring: Vec::new(),
            chunk: vec![0; CHUNK],
            started: false,
            from_start,
            max_line: max_line.max(1),
            stats: FollowStats::default(),
        }
    }

    pub fn stats(&self) -> &FollowStats {
        &self.stats
    }

    /// The file being followed.
    pub fn following(&self) -> Option<&Path> {
        self.current.as_ref().map(|o| o.path.as_path())
    }

    /// The open file (tests check how it was opened).
    pub fn current_file(&self) -> Option<&File> {
        self.current.as_ref().map(|o| &o.file)
    }

    /// One poll: every complete new line goes to `sink` (without its newline), at most
    /// about `max_bytes` bytes read. `candidates`: the files OpenClaw may be writing now,
    /// preferred first.
    pub fn poll(
        &mut self,
        candidates: &[PathBuf],
        max_bytes: u64,
        sink: &mut dyn FnMut(&[u8]),
    ) -> PollOutcome {
        let mut budget = max_bytes.max(CHUNK as u64);
        // 1. Late records in retired files.
        let mut retiring = std::mem::take(&mut self.retiring);
        for (open, left) in retiring.iter_mut() {
            self.drain(open, &mut budget, sink);
            *left = left.saturating_sub(1);
        }
        retiring.retain(|(_, left)| *left > 0);
        self.retiring = retiring;

        // 2. The current file, to its end.
        let mut more = false;
        if let Some(mut open) = self.current.take() {
            more = self.drain(&mut open, &mut budget, sink);
            self.current = Some(open);
        }

        // 3. Switch when OpenClaw is writing elsewhere now.
        if !more {
            let want = candidates.iter().find(|p| p.is_file()).cloned();
            self.switch(want);
            if let Some(mut open) = self.current.take() {
                more = self.drain(&mut open, &mut budget, sink);
                self.current = Some(open);
            }
        }
        self.started = true;
        PollOutcome {
            following: self.current.as_ref().map(|o| o.path.clone()),
            more,
        }
    }

    fn switch(&mut self, want: Option<PathBuf>) {
        let Some(cur) = self.current.as_mut() else {
            if let Some(p) = want {
                let at_end = !self.started && !self.from_start;
                if let Ok(open) = Open::new(&p, at_end) {
                    self.current = Some(open);
                }
            }
            return;
        };
        match want {
            Some(p) if p == cur.path => match std::fs::metadata(&p) {
                Ok(m) if (m.dev(), m.ino()) != cur.id => self.replace(Some(p)),
                Ok(m) if m.len() < cur.pos => {
                    // Truncated in place (copytruncate, or `: > file`): read it again.
                    self.stats.truncations += 1;
                    cur.pos = 0;
                    cur.pending.clear();
                    cur.discarding = false;
                    if cur.file.seek(SeekFrom::Start(0)).is_err() {
                        self.replace(Some(p));
                    }
                }
                Ok(_) => {}
                Err(_) => self.replace(None),
            },
            Some(p) => self.replace(Some(p)),
            None if cur.path.is_file() => {}
            None => self.replace(None),
        }
    }

    /// Retires the current file and opens `next` from its start.
    fn replace(&mut self, next: Option<PathBuf>) {
        if let Some(old) = self.current.take() {
            self.retiring.push((old, RETIRE_POLLS));
        }
        if let Some(p) = next {
            if let Ok(open) = Open::new(&p, false) {
                self.stats.switches += 1;
                self.current = Some(open);
            }
        }
    }

    /// Reads `open` to its end or until `budget` runs out (then returns true).
    fn drain(&mut self, open: &mut Open, budget: &mut u64, sink: &mut dyn FnMut(&[u8])) -> bool {
        loop {
            if *budget == 0 {
                return true;
            }
            let want = (*budget).min(self.chunk.len() as u64) as usize;
            let n = match open.file.read(&mut self.chunk[..want]) {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            *budget -= n as u64;
            open.pos += n as u64;
            self.stats.bytes_read += n as u64;
            self.split(open, n, sink);
        }
    }

    /// Hands every complete line of the first `n` bytes of the chunk (after `open`'s
    /// pending start) to `sink`; keeps the incomplete tail, bounded by `max_line`.
    fn split(&mut self, open: &mut Open, n: usize, sink: &mut dyn FnMut(&[u8])) {
        let data = &self.chunk[..n];
        let mut start = 0;
        while let Some(i) = data[start..].iter().position(|&b| b == b'\n') {
            let end = start + i;
            if open.discarding {
                open.discarding = false;
            } else if open.pending.is_empty() {
                self.stats.lines += 1;
                sink(&data[start..end]);
            } else if open.pending.len() + (end - start) <= self.max_line {
                open.pending.reserve_exact(end - start);
                open.pending.extend_from_slice(&data[start..end]);
                self.stats.lines += 1;
                sink(&open.pending);
                open.pending.clear();
            } else {
                self.stats.long_lines += 1;
                open.pending.clear();
            }
            start = end + 1;
        }
        let tail = &data[start..];
        if !tail.is_empty() && !open.discarding {
            if open.pending.len() + tail.len() <= self.max_line {
                // Exact growth: the partial line's allocation stays within `max_line`.
                open.pending.reserve_exact(tail.len());
                open.pending.extend_from_slice(tail);
            } else {
                self.stats.long_lines += 1;
                open.pending.clear();
                // Keep the allocation from growing with the next over-long line.
                open.pending.shrink_to(self.max_line);
                open.discarding = true;
            }
        }
        let buffered = self.chunk.len()
            + self.current.as_ref().map_or(0, |o| o.pending.capacity())
            + open.pending.capacity()
            + self
                .retiring
                .iter()
                .map(|(o, _)| o.pending.capacity())
                .sum::<usize>();
        self.stats.peak_buffered = self.stats.peak_buffered.max(buffered);
    }
}

#[cfg(test)]
mod tests;
