//! The entry point every function's `main` calls: serve Lambda invocations, or with
//! `--event FILE` handle one payload locally (no Lambda or AWS account needed), or with
//! `--redrive FILE` send the records of a file of dead letters through the sinks again.
//!
//! Logs go to stderr: stdout carries change records (the stdout sink) and EMF metrics. In a
//! local run the response and the metrics go to stderr too, so stdout stays pure JSON Lines.

use std::fmt::Display;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent, Runtime};
use tokio::time::Instant;

use crate::deadline::{self, MAX_INVOCATION};
use crate::function::{ErrorType, Function, Response};
use crate::log_values;
use crate::now_ms;
use crate::raw_payload::RawPayloads;

/// Builds the function with `build` (cold start), then serves invocations; with
/// `--event FILE`, handles that one payload instead. `name` names the binary in messages.
pub async fn main<F, E, B>(name: &str, build: impl FnOnce() -> B) -> ExitCode
where
    F: Function,
    E: Display,
    B: Future<Output = Result<F, E>>,
{
    lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    let outcome = match Mode::from_args(std::env::args().skip(1)) {
        Ok(mode) => match build().await {
            Ok(function) => mode.run(&function).await,
            Err(e) => Err(e.to_string()),
        },
        Err(()) => Err(format!(
            "usage: {name} [--event EVENT.json | --redrive LETTERS.jsonl]"
        )),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %e, "{name} failed");
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

enum Mode {
    Lambda,
    Local(PathBuf),
    Redrive(PathBuf),
}

impl Mode {
    fn from_args(mut args: impl Iterator<Item = String>) -> Result<Mode, ()> {
        match (args.next().as_deref(), args.next(), args.next()) {
            (None, _, _) => Ok(Mode::Lambda),
            (Some("--event"), Some(path), None) => Ok(Mode::Local(path.into())),
            (Some("--redrive"), Some(path), None) => Ok(Mode::Redrive(path.into())),
            _ => Err(()),
        }
    }

    async fn run<F: Function>(self, function: &F) -> Result<ExitCode, String> {
        match self {
            Mode::Lambda => serve(function).await.map(|()| ExitCode::SUCCESS),
            Mode::Local(path) => run_local(function, &path).await,
            Mode::Redrive(path) => redrive(function, &path).await,
        }
    }
}

/// As `lambda_runtime::run`, plus the payload taken before the runtime parses it.
async fn serve<F: Function>(function: &F) -> Result<(), String> {
    let payloads = RawPayloads::default();
    Runtime::new(service_fn(|event: LambdaEvent<()>| {
        invoke(function, &payloads, event)
    }))
    .layer(TracingLayer::new())
    .layer(payloads.clone())
    .run()
    .await
    .map_err(|e| e.to_string())
}

async fn invoke<F: Function>(
    function: &F,
    payloads: &RawPayloads,
    event: LambdaEvent<()>,
) -> Result<F::Response, Diagnostic> {
    let payload = payloads
        .take(&event.context.request_id)
        .ok_or_else(|| Diagnostic {
            error_type: "PayloadNotKept".into(),
            error_message: "the invocation's payload was not kept by the RawPayloads layer".into(),
        })?;
    let stop_at = deadline::stop_at(
        event.context.deadline(),
        function.settings().deadline_margin,
    );
    let invocation = function
        .handle(&payload, stop_at)
        .await
        .map_err(|e| Diagnostic {
            error_type: e.error_type().into(),
            // Lambda logs it and hands it to the on-failure destination.
            error_message: log_values::loggable(&e.to_string()).into_owned(),
        })?;
    println!("{}", invocation.metrics.to_emf(now_ms()));
    Ok(invocation.response)
}

/// One invocation on the payload in `path`, with Lambda's longest time to run.
async fn run_local<F: Function>(function: &F, path: &Path) -> Result<ExitCode, String> {
    let payload =
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let invocation = function
        .handle(&payload, Instant::now() + MAX_INVOCATION)
        .await
        .map_err(|e| {
            format!(
                "{}: {}",
                path.display(),
                log_values::loggable(&e.to_string())
            )
        })?;
    eprintln!("{}", invocation.metrics.to_emf(now_ms()));
    eprintln!(
        "{}",
        serde_json::to_string(&invocation.response).unwrap_or_else(|e| e.to_string())
    );
    Ok(if invocation.response.has_failures() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Handles, one after the other, the payloads that redrive the letters in `path`; stops at the
/// first that leaves records to retry (the letters from there on are to be redriven again).
async fn redrive<F: Function>(function: &F, path: &Path) -> Result<ExitCode, String> {
    let letters =
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let redrive = function.redrive(&letters).await?;
    for skipped in &redrive.skipped {
        eprintln!("{}: skipped: {skipped}", path.display());
    }
    let count = redrive.payloads.len();
    for (at, payload) in redrive.payloads.iter().enumerate() {
        let invocation = function
            .handle(payload, Instant::now() + MAX_INVOCATION)
            .await
            .map_err(|e| {
                format!(
                    "batch {} of {count}: {}",
                    at + 1,
                    log_values::loggable(&e.to_string())
                )
            })?;
        eprintln!("{}", invocation.metrics.to_emf(now_ms()));
        if invocation.response.has_failures() {
            eprintln!(
                "{}",
                serde_json::to_string(&invocation.response).unwrap_or_else(|e| e.to_string())
            );
            return Err(format!(
                "batch {} of {count} left records to retry (see above): redrive again once the sinks accept them",
                at + 1
            ));
        }
    }
    eprintln!(
        "{}: {count} batches redriven, {} letters skipped",
        path.display(),
        redrive.skipped.len()
    );
    Ok(if redrive.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
