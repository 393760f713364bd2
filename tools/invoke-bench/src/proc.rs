//! What Linux says about a process: CPU time of all its threads, resident memory.

use std::fs;
use std::io;

/// Nanoseconds every live thread of `pid` has run (`/proc/PID/task/*/schedstat`), exact to the
/// nanosecond, unlike `/proc/PID/stat`'s 10 ms ticks.
pub fn cpu_ns(pid: u32) -> io::Result<u64> {
    let mut total = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        // A thread may end between listing and reading.
        if let Ok(text) = fs::read_to_string(path) {
            total += first_number(&text);
        }
    }
    Ok(total)
}

/// Minor page faults of the whole process so far (`/proc/PID/stat`): each is a page of memory
/// touched for the first time, which the kernel zeroes (a fresh multi-megabyte buffer costs
/// thousands).
pub fn minor_faults(pid: u32) -> io::Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which may hold spaces but ends at the last ')'.
    let fields = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // minflt is the 10th field of the line, the 8th after the name.
    Ok(fields
        .split_whitespace()
        .nth(7)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

/// The calling thread's id, for [`thread_cpu_ns`] in another thread.
pub fn thread_id() -> io::Result<u32> {
    let link = fs::read_link("/proc/thread-self")?;
    link.file_name()
        .and_then(|name| name.to_str()?.parse().ok())
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/thread-self: {link:?}")))
}

/// Nanoseconds thread `tid` of this process has run. Exact only while that thread is not
/// running: the kernel brings a running thread's figure up to date at ticks (4 ms here), so a
/// thread cannot time itself this way.
pub fn thread_cpu_ns(tid: u32) -> io::Result<u64> {
    Ok(first_number(&fs::read_to_string(format!(
        "/proc/self/task/{tid}/schedstat"
    ))?))
}

/// The process's peak resident set (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> io::Result<u64> {
    status_field(pid, "VmHWM:")
}

/// The process's resident set now (`VmRSS`), in KiB.
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    status_field(pid, "VmRSS:")
}

fn status_field(pid: u32, field: &str) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .map(first_number)
        .ok_or_else(|| io::Error::other(format!("no {field} in /proc/{pid}/status")))
}

fn first_number(text: &str) -> u64 {
    text.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
