//! The Lambda entry point, or `--event FILE` for a local run.

use std::process::ExitCode;

use export_trigger::{ExportTrigger, Settings};

// jemalloc: see cdc_lambda::allocator.
#[global_allocator]
static ALLOCATOR: cdc_lambda::allocator::Allocator = cdc_lambda::allocator::Allocator;

#[tokio::main]
async fn main() -> ExitCode {
    cdc_lambda::runtime::main("export-trigger", || async {
        let settings = Settings::from_env(|name| std::env::var(name).ok())?;
        Ok::<_, export_trigger::SettingsError>(
            ExportTrigger::from_settings(settings, Default::default()).await,
        )
    })
    .await
}
