//! One process of one handler, served repeated invocations of one payload: its cold init, the
//! CPU time each warm invocation cost it, its peak resident memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::handlers::{Handler, Role};
use crate::proc;
use crate::runtime_api::{Event, RuntimeApi};

/// How long a handler may take to ask for its next event: a stuck one fails the run.
const PATIENCE: Duration = Duration::from_secs(120);

/// What one process cost.
#[derive(Debug)]
pub struct Measured {
    /// Process start to its first request for an event.
    pub init: Duration,
    /// CPU time of that init.
    pub init_cpu: Duration,
    /// Resident memory when it first asks for an event.
    pub init_rss_kib: u64,
    /// CPU time of each measured warm invocation, from the event handed over to the function's
    /// next request for one (so everything it does for an invocation is in).
    pub cpu: Vec<Duration>,
    /// Minor page faults of each measured invocation.
    pub faults: Vec<u64>,
    /// Wall time from the event handed over to the answer.
    pub wall: Vec<Duration>,
    /// Peak resident memory of the process's life.
    pub peak_rss_kib: u64,
    /// The change records of one invocation, for comparison (handlers that map).
    pub output: Option<PathBuf>,
}

/// What to serve.
pub struct Plan<'a> {
    /// The payload of every invocation.
    pub payload: &'a Bytes,
    /// Invocations before measuring (first use of buffers, lazy initialisation).
    pub warmup: usize,
    /// Invocations measured.
    pub runs: usize,
    /// Where outputs and logs go, named after `case`.
    pub dir: &'a Path,
    /// Names this case's files.
    pub case: &'a str,
}

/// Starts `handler`, serves it `plan`, stops it.
pub async fn measure(handler: &Handler, plan: &Plan<'_>) -> Result<Measured, String> {
    let output = plan.dir.join(format!("{}.jsonl", plan.case));
    let log = plan.dir.join(format!("{}.log", plan.case));
    let mut api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = handler
        .command(&api.address(), &output, &log)
        .and_then(|mut command| command.spawn())
        .map_err(|e| format!("cannot start {}: {e}", handler.name))?;
    let pid = child
        .id()
        .ok_or_else(|| format!("{} exited at once", handler.name))?;
    let failed = |e: String| format!("{}: {e} (log: {})", handler.name, log.display());

    wait_for_next(&mut api).await.map_err(failed)?;
    let init = started.elapsed();
    let init_cpu = cpu(pid).map_err(failed)?;
    let init_rss_kib = proc::rss_kib(pid).map_err(|e| failed(e.to_string()))?;

    let mut measured = Measured {
        init,
        init_cpu,
        init_rss_kib,
        cpu: vec![],
        faults: vec![],
        wall: vec![],
        peak_rss_kib: 0,
        output: None,
    };
    if handler.role != Role::InitOnly {
        for run in 0..plan.warmup + plan.runs {
            // Each invocation's records alone, so that the file stays one batch long.
            std::fs::write(&output, b"").map_err(|e| failed(e.to_string()))?;
            let before = cpu(pid).map_err(failed)?;
            let faults_before = proc::minor_faults(pid).map_err(|e| failed(e.to_string()))?;
            let handed = Instant::now();
            let id = api.invoke(plan.payload.clone());
            wait_for_response(&mut api, &id).await.map_err(failed)?;
            let wall = handed.elapsed();
            wait_for_next(&mut api).await.map_err(failed)?;
            let spent = cpu(pid).map_err(failed)?.saturating_sub(before);
            let faults = proc::minor_faults(pid).map_err(|e| failed(e.to_string()))?;
            if run == 0 && handler.role == Role::Maps {
                let kept = plan.dir.join(format!("{}.first.jsonl", plan.case));
                std::fs::copy(&output, &kept).map_err(|e| failed(e.to_string()))?;
                measured.output = Some(kept);
            }
            if run >= plan.warmup {
                measured.cpu.push(spent);
                measured.faults.push(faults.saturating_sub(faults_before));
                measured.wall.push(wall);
            }
        }
    }
    measured.peak_rss_kib = proc::peak_rss_kib(pid).map_err(|e| failed(e.to_string()))?;
    let _ = child.kill().await;
    let _ = std::fs::remove_file(&output);
    Ok(measured)
}

fn cpu(pid: u32) -> Result<Duration, String> {
    proc::cpu_ns(pid)
        .map(Duration::from_nanos)
        .map_err(|e| format!("cannot read its CPU time: {e}"))
}

async fn wait_for_next(api: &mut RuntimeApi) -> Result<(), String> {
    match api.event(PATIENCE).await {
        Some(Event::Next) => Ok(()),
        Some(Event::InitError(body)) => {
            Err(format!("init failed: {}", String::from_utf8_lossy(&body)))
        }
        other => Err(format!(
            "expected a request for the next event, got {other:?}"
        )),
    }
}

async fn wait_for_response(api: &mut RuntimeApi, id: &str) -> Result<(), String> {
    match api.event(PATIENCE).await {
        Some(Event::Response { id: answered, body }) if answered == id => {
            let failures = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("batchItemFailures")?.as_array().map(Vec::len));
            match failures {
                Some(0) => Ok(()),
                _ => Err(format!(
                    "answered with failures: {}",
                    String::from_utf8_lossy(&body)
                )),
            }
        }
        Some(Event::Error { id: failed, body }) => Err(format!(
            "invocation {failed} failed: {}",
            String::from_utf8_lossy(&body)
        )),
        other => Err(format!("expected the answer to {id}, got {other:?}")),
    }
}
