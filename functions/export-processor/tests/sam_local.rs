//! `sam local invoke ExportProcessor -e events/export-processor/… --env-vars events/sam/env.json`
//! offline: with exactly those variables and no AWS, the S3 test event is answered as done and
//! every other sample event, which needs the export's objects in S3, fails at once saying it has
//! no AWS credentials, never a panic or a hang (see `cdc_testkit::sam_local`; no Docker here).

use cdc_testkit::sam_local::{events_dir, events_in, invoke};

#[test]
fn every_sample_event_is_answered_offline_with_env_json() {
    let events = events_in(&events_dir().join("export-processor"));
    assert!(events.len() >= 5, "{events:?}");
    for event in events {
        let output = invoke(
            env!("CARGO_BIN_EXE_export-processor"),
            "ExportProcessor",
            &event,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = event.display();
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        if event.ends_with("sqs-test-event.json") {
            assert!(output.status.success(), "{name}: {stderr}");
        } else {
            assert!(
                output.status.success() || stderr.contains("credentials"),
                "{name}: {stderr}"
            );
        }
    }
}
