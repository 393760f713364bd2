//! The Lambda entry point, or `--event FILE` for a local run.

use std::process::ExitCode;

use stream_handler::{Settings, StreamHandler};

// jemalloc: see cdc_lambda::allocator.
#[global_allocator]
static ALLOCATOR: cdc_lambda::allocator::Allocator = cdc_lambda::allocator::Allocator;

#[tokio::main]
async fn main() -> ExitCode {
    cdc_lambda::runtime::main("stream-handler", || async {
        let settings = Settings::from_env(|name| std::env::var(name).ok())?;
        StreamHandler::from_settings(settings, Default::default()).await
    })
    .await
}
