//! The markdown tables docs/BENCHMARKS.md shows.

use std::time::Duration;

use crate::measure::Measured;

/// The middle value (the upper one of an even count); zero for none.
pub fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn median_count(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One batch served to every handler.
pub struct CaseResult {
    /// The payload's shape.
    pub shape: &'static str,
    /// "1,000 records" or "max batch".
    pub batch: String,
    /// Records in the batch.
    pub records: usize,
    /// Payload bytes.
    pub bytes: usize,
    /// The in-process mapping's CPU time per batch.
    pub in_process: Duration,
    /// Each handler's name and measurements, ours first.
    pub handlers: Vec<(String, Measured)>,
    /// Whether each mapping handler wrote what ours wrote (`None`: not compared).
    pub same_output: Vec<(String, Option<bool>)>,
}

/// The table header.
pub fn header() -> String {
    "| shape | batch | records | payload MB | handler | CPU ms per invocation | vs ours | page faults | wall ms | peak RSS MB | same output |\n\
     |---|---|---:|---:|---|---:|---:|---:|---:|---:|---|"
        .to_owned()
}

/// The rows of one case.
pub fn rows(case: &CaseResult) -> Vec<String> {
    let ours = case.handlers.first().map(|(_, m)| median(&m.cpu));
    let ratio = |cpu: Duration| match ours {
        Some(ours) if !ours.is_zero() => format!("{:.1}x", cpu.as_secs_f64() / ours.as_secs_f64()),
        _ => "—".to_owned(),
    };
    let prefix = format!(
        "| {} | {} | {} | {:.2} |",
        case.shape,
        case.batch,
        case.records,
        case.bytes as f64 / 1e6
    );
    let mut rows = vec![format!(
        "{prefix} in-process mapping (parse, map, encode) | {:.2} | {} | — | — | — | — |",
        ms(case.in_process),
        ratio(case.in_process)
    )];
    for (name, m) in &case.handlers {
        let cpu = median(&m.cpu);
        let same = case
            .same_output
            .iter()
            .find(|(n, _)| n == name)
            .map_or("—", |(_, same)| match same {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not compared",
            });
        rows.push(format!(
            "{prefix} {name} | {:.2} | {} | {} | {:.2} | {:.1} | {same} |",
            ms(cpu),
            ratio(cpu),
            median_count(&m.faults),
            ms(median(&m.wall)),
            mib(m.peak_rss_kib)
        ));
    }
    rows
}

/// Cold init of each handler: median over its starts.
pub fn init_table(inits: &[(String, Vec<Measured>)]) -> String {
    let mut out = "| handler | starts | init ms (process start to first /next) | init CPU ms | RSS at first /next MB |\n|---|---:|---:|---:|---:|\n".to_owned();
    for (name, starts) in inits {
        let init: Vec<Duration> = starts.iter().map(|m| m.init).collect();
        let cpu: Vec<Duration> = starts.iter().map(|m| m.init_cpu).collect();
        let rss = starts.iter().map(|m| m.init_rss_kib).max().unwrap_or(0);
        out.push_str(&format!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} |\n",
            starts.len(),
            ms(median(&init)),
            ms(median(&cpu)),
            mib(rss)
        ));
    }
    out
}
