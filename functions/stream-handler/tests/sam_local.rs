//! `sam local invoke StreamHandler -e events/… --env-vars events/sam/env.json` works offline on
//! every sample event: the binary, given exactly those variables and no AWS, answers each with
//! its change records (see `cdc_testkit::sam_local`; no Docker runs here).

use cdc_testkit::sam_local::{events_dir, events_in, invoke};

#[test]
fn every_sample_event_is_answered_offline_with_env_json() {
    let events = events_in(&events_dir());
    assert!(events.len() >= 6, "{events:?}");
    for event in events {
        let output = invoke(
            env!("CARGO_BIN_EXE_stream-handler"),
            "StreamHandler",
            &event,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", event.display());
        assert!(
            stderr.contains("\"batchItemFailures\":[]"),
            "{}: {stderr}",
            event.display()
        );
        assert!(
            !output.stdout.is_empty(),
            "{}: change records on stdout",
            event.display()
        );
    }
}
