//! CPU time consumed by a thread, from `/proc` (Linux; elsewhere `None`, and callers fall back to wall time).
//!
//! Why: the evaluation cap is meant to stop scripts that compute too much, not scripts whose thread did not get a
//! CPU. Under a CFS quota (a Kubernetes CPU limit) or an oversubscribed host a thread can wait tens of
//! milliseconds to run; a wall-clock cap would then fail benign conditions. The cap is therefore checked against
//! the thread's CPU time whenever the wall clock says it may have passed.

use std::time::Duration;

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on every mainstream Linux build).
const TICKS_PER_SECOND: u64 = 100;

/// The `/proc` path of the calling thread's `stat`, for reading from this or another thread.
pub fn current_thread_stat_path() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    // "/proc/thread-self" points at "<pid>/task/<tid>".
    let tid = link.file_name()?.to_str()?.to_owned();
    Some(format!("/proc/self/task/{tid}/stat"))
}

/// User + system CPU time of the thread whose `stat` file is `path`.
pub fn thread_cpu_time(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    parse_stat(&stat)
}

/// utime + stime from a `stat` line (fields 14 and 15; the command name in field 2 may contain spaces, so fields
/// are counted after its closing parenthesis).
fn parse_stat(stat: &str) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // after ')' come field 3 (state) .. ; utime is field 14, i.e. the 12th after the name.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / TICKS_PER_SECOND))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_despite_spaces_in_the_name() {
        let stat = "4242 (js eval (0)) R 1 2 3 4 5 6 7 8 9 10 37 5 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_stat(stat), Some(Duration::from_millis(420)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn a_busy_thread_accumulates_cpu_time() {
        let Some(path) = current_thread_stat_path() else { return }; // not Linux
        let before = thread_cpu_time(&path).unwrap();
        // Spin until 30 ms of CPU time show up (however long a loaded machine takes), for at most 10 s of wall.
        let start = std::time::SystemTime::now();
        let mut x = 0u64;
        let mut after = before;
        while after < before + Duration::from_millis(30)
            && start.elapsed().unwrap_or_default() < Duration::from_secs(10)
        {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            after = thread_cpu_time(&path).unwrap();
        }
        assert!(after >= before + Duration::from_millis(30), "{before:?} -> {after:?}");
    }
}
