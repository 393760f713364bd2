//! The Lambda entry point, or `--event FILE` for a local run.

use std::path::PathBuf;
use std::process::ExitCode;

use cdc_record::StreamEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use stream_handler::{now_ms, BatchResponse, Settings, StreamHandler};

#[tokio::main]
async fn main() -> ExitCode {
    // Logs go to stderr: stdout carries change records (stdout sink) and EMF metrics.
    lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    match run().await {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %e, "stream-handler failed");
            eprintln!("stream-handler: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<ExitCode, Error> {
    let settings = Settings::from_env(|name| std::env::var(name).ok())?;
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (Some("--event"), Some(path)) => {
            let response = stream_handler::local::run(&PathBuf::from(path), settings).await?;
            Ok(if response.batch_item_failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        (None, _) => {
            let handler = StreamHandler::from_settings(settings, Default::default()).await?;
            lambda_runtime::run(service_fn(|event: LambdaEvent<StreamEvent>| {
                invoke(&handler, event)
            }))
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        _ => Err("usage: stream-handler [--event EVENT.json]".into()),
    }
}

async fn invoke(
    handler: &StreamHandler,
    event: LambdaEvent<StreamEvent>,
) -> Result<BatchResponse, Error> {
    let stop_at = handler.stop_at(event.context.deadline());
    let invocation = handler.handle(&event.payload.records, stop_at).await?;
    println!("{}", invocation.metrics.to_emf(now_ms()));
    Ok(invocation.response)
}
