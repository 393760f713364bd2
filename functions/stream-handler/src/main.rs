//! The Lambda entry point, or `--event FILE` for a local run.

use std::process::ExitCode;

use stream_handler::{Settings, StreamHandler};

#[tokio::main]
async fn main() -> ExitCode {
    cdc_lambda::runtime::main("stream-handler", || async {
        let settings = Settings::from_env(|name| std::env::var(name).ok())?;
        StreamHandler::from_settings(settings, Default::default()).await
    })
    .await
}
