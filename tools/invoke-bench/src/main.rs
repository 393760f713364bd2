//! Invocation cost through the Lambda Runtime API (issue: "measure as users pay").
//!
//! Serves each handler real invocations from a Runtime API emulator on 127.0.0.1 and reads,
//! from /proc, the CPU time its process spent per warm invocation, its cold init and its peak
//! RSS; beside it, in the same run, the in-process mapping of the same batch, a hello-world
//! `lambda_runtime` binary, and the Python and Node handlers a user would otherwise write
//! (tools/invoke-bench/reference), whose outputs are compared with ours. Run it through
//! `scripts/bench-invocation.sh`, which builds and installs everything it needs.

mod args;
mod handlers;
mod in_process;
mod measure;
mod proc;
mod report;
mod runtime_api;

use std::process::ExitCode;

use bytes::Bytes;
use cdc_testkit::shapes::{Shape, MAX_PAYLOAD};

use crate::args::Args;
use crate::handlers::Handler;
use crate::measure::{measure, Measured, Plan};
use crate::report::CaseResult;

// The functions' allocator, for the in-process mapping to cost what it costs in them.
#[global_allocator]
static ALLOCATOR: cdc_lambda::allocator::Allocator = cdc_lambda::allocator::Allocator;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("invoke-bench: {e}\n\n{}", args::USAGE);
            return ExitCode::FAILURE;
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("invoke-bench: built without optimisations, the in-process figures mean nothing (use --release)");
    }
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("invoke-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let handlers = args.handlers();
    let mut cases = vec![];
    for &shape in &args.shapes {
        for batch in &args.batches {
            let Some((payload, records)) = batch_of(shape, batch) else {
                eprintln!(
                    "{}: {batch} does not fit in one payload, skipped",
                    shape.name()
                );
                continue;
            };
            cases.push(run_case(args, &handlers, shape, batch, payload, records).await?);
        }
    }
    println!("{}", report::header());
    for case in &cases {
        for row in report::rows(case) {
            println!("{row}");
        }
    }
    println!();
    for case in &cases {
        println!("{}", targets(case));
    }
    if args.init_starts > 0 {
        println!();
        println!("{}", report::init_table(&cold_inits(args).await?));
    }
    Ok(())
}

/// The payload of `batch` ("1000"-like record counts, or "max") of `shape`.
fn batch_of(shape: Shape, batch: &str) -> Option<(Bytes, usize)> {
    if batch == "max" {
        let (payload, n) = shape.max_payload();
        return Some((payload.into(), n));
    }
    let n: usize = batch.parse().ok()?;
    let payload = shape.payload(n);
    (payload.len() < MAX_PAYLOAD).then(|| (payload.into(), n))
}

async fn run_case(
    args: &Args,
    handlers: &[Handler],
    shape: Shape,
    batch: &str,
    payload: Bytes,
    records: usize,
) -> Result<CaseResult, String> {
    let label = if batch == "max" {
        "max batch".to_owned()
    } else {
        format!("{records} records")
    };
    eprintln!(
        "{} / {label}: {records} records, {:.2} MB",
        shape.name(),
        payload.len() as f64 / 1e6
    );
    let in_process = in_process::map_cpu(&payload, args.runs.max(5))?;
    let mut measured = vec![];
    for (at, handler) in handlers.iter().enumerate() {
        let case = format!("{}-{batch}-{at}", shape.name());
        let plan = Plan {
            payload: &payload,
            warmup: args.warmup,
            runs: args.runs,
            dir: &args.out,
            case: &case,
        };
        eprintln!("  {}", handler.name);
        measured.push((handler.name.clone(), measure(handler, &plan).await?));
    }
    let same_output = compare(args, &measured);
    Ok(CaseResult {
        shape: shape.name(),
        batch: label,
        records,
        bytes: payload.len(),
        in_process,
        handlers: measured,
        same_output,
    })
}

/// Each mapping handler's records against ours, by the reference's `compare.py` (exact
/// numbers, any key order).
fn compare(args: &Args, measured: &[(String, Measured)]) -> Vec<(String, Option<bool>)> {
    let Some(ours) = measured.first().and_then(|(_, m)| m.output.clone()) else {
        return vec![];
    };
    measured
        .iter()
        .skip(1)
        .filter_map(|(name, m)| Some((name, m.output.as_ref()?)))
        .map(|(name, theirs)| {
            let same = args.compare().map(|(python, compare)| {
                std::process::Command::new(python)
                    .arg(compare)
                    .arg(&ours)
                    .arg(theirs)
                    // Its report of a difference goes with the harness's progress, not the tables.
                    .stdout(std::io::stderr())
                    .status()
                    .is_ok_and(|s| s.success())
            });
            (name.clone(), same)
        })
        .collect()
}

/// The targets for one case, as ratios of this run.
fn targets(case: &CaseResult) -> String {
    let cpu = |m: &Measured| report::median(&m.cpu).as_secs_f64();
    let find = |prefix: &str| case.handlers.iter().find(|(n, _)| n.starts_with(prefix));
    let Some((_, ours)) = case.handlers.first() else {
        return String::new();
    };
    let mut parts = vec![format!(
        "ours / in-process {:.1}x (target ≤ 3)",
        cpu(ours) / case.in_process.as_secs_f64()
    )];
    if let Some((_, python)) = find("Python") {
        parts.push(format!(
            "Python / ours {:.0}x (≥ 30)",
            cpu(python) / cpu(ours)
        ));
    }
    if let Some((_, node)) = find("Node") {
        parts.push(format!("Node / ours {:.0}x (≥ 10)", cpu(node) / cpu(ours)));
    }
    if let Some((_, hello)) = find("hello") {
        parts.push(format!(
            "peak RSS ours {:.1} MB vs hello-world {:.1} MB",
            ours.peak_rss_kib as f64 / 1024.0,
            hello.peak_rss_kib as f64 / 1024.0
        ));
    }
    format!("- {} / {}: {}", case.shape, case.batch, parts.join("; "))
}

/// Each handler started `init_starts` times and stopped at its first request for an event.
async fn cold_inits(args: &Args) -> Result<Vec<(String, Vec<Measured>)>, String> {
    let payload = Bytes::new();
    let mut inits = vec![];
    for handler in args.init_handlers() {
        let mut starts = vec![];
        for start in 0..args.init_starts {
            let case = format!("init-{}-{start}", inits.len());
            let plan = Plan {
                payload: &payload,
                warmup: 0,
                runs: 0,
                dir: &args.out,
                case: &case,
            };
            starts.push(measure(&handler.init_only(), &plan).await?);
        }
        inits.push((handler.name.clone(), starts));
    }
    Ok(inits)
}
