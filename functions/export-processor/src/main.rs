//! The Lambda entry point, or `--event FILE` for a local run.

use std::process::ExitCode;

use export_processor::{ExportProcessor, Settings};

// jemalloc: see cdc_lambda::allocator.
#[global_allocator]
static ALLOCATOR: cdc_lambda::allocator::Allocator = cdc_lambda::allocator::Allocator;

#[tokio::main]
async fn main() -> ExitCode {
    cdc_lambda::runtime::main("export-processor", || async {
        let settings = Settings::from_env(|name| std::env::var(name).ok())?;
        ExportProcessor::from_settings(settings, Default::default()).await
    })
    .await
}
