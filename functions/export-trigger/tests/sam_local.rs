//! `sam local invoke ExportTrigger -e events/export-trigger/… --env-vars events/sam/env.json`
//! offline: with exactly those variables and no AWS, every sample event is answered at once
//! with an error saying there are no AWS credentials, never a panic or a hang (see
//! `cdc_testkit::sam_local`; no Docker runs here).

use cdc_testkit::sam_local::{events_dir, events_in, invoke};

#[test]
fn every_sample_event_is_answered_offline_with_env_json() {
    let events = events_in(&events_dir().join("export-trigger"));
    assert!(events.len() >= 5, "{events:?}");
    for event in events {
        let output = invoke(
            env!("CARGO_BIN_EXE_export-trigger"),
            "ExportTrigger",
            &event,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = event.display();
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(
            output.status.success() || stderr.contains("credentials"),
            "{name}: {stderr}"
        );
    }
}
