//! The Lambda entry point, or `--event FILE` for a local run.

use std::process::ExitCode;

use export_trigger::{ExportTrigger, Settings};

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
