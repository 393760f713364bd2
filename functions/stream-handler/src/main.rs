//! The Lambda entry point, or `--event FILE` for a local run.

use std::path::PathBuf;
use std::process::ExitCode;

use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent, Runtime};
use stream_handler::raw_payload::RawPayloads;
use stream_handler::{now_ms, BatchResponse, HandlerError, Settings, StreamHandler};

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
            let payloads = RawPayloads::default();
            // As `lambda_runtime::run`, plus the payload taken before the runtime parses it.
            Runtime::new(service_fn(|event: LambdaEvent<()>| {
                invoke(&handler, &payloads, event)
            }))
            .layer(TracingLayer::new())
            .layer(payloads.clone())
            .run()
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        _ => Err("usage: stream-handler [--event EVENT.json]".into()),
    }
}

/// Why an invocation failed as a whole (Lambda then retries the batch).
#[derive(Debug, thiserror::Error)]
enum InvokeError {
    #[error("the invocation's payload was not kept by the RawPayloads layer")]
    PayloadNotKept,
    #[error(transparent)]
    Handler(#[from] HandlerError),
}

impl From<InvokeError> for Diagnostic {
    fn from(error: InvokeError) -> Self {
        let error_type = match &error {
            InvokeError::PayloadNotKept => "PayloadNotKept",
            InvokeError::Handler(e) => e.error_type(),
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

async fn invoke(
    handler: &StreamHandler,
    payloads: &RawPayloads,
    event: LambdaEvent<()>,
) -> Result<BatchResponse, InvokeError> {
    let payload = payloads
        .take(&event.context.request_id)
        .ok_or(InvokeError::PayloadNotKept)?;
    let stop_at = handler.stop_at(event.context.deadline());
    let invocation = handler.handle(&payload, stop_at).await?;
    println!("{}", invocation.metrics.to_emf(now_ms()));
    Ok(invocation.response)
}
