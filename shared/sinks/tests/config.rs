//! `CDC_SINKS` and `CDC_DLQ`: every accepted form, and a clear error for every bad one.

use std::path::PathBuf;

use cdc_sinks::{ConfigError, DeadLetterConfig, SinkConfig};

#[test]
fn unset_or_blank_means_stdout() {
    let stdout = vec![("stdout".to_owned(), SinkConfig::Stdout)];
    assert_eq!(SinkConfig::parse_list(None).unwrap(), stdout);
    assert_eq!(SinkConfig::parse_list(Some("  ")).unwrap(), stdout);
}

#[test]
fn parses_a_comma_separated_list() {
    assert_eq!(
        SinkConfig::parse_list(Some("stdout, file:///tmp/out.jsonl")).unwrap(),
        vec![
            ("stdout".to_owned(), SinkConfig::Stdout),
            (
                "file:///tmp/out.jsonl".to_owned(),
                SinkConfig::File {
                    path: PathBuf::from("/tmp/out.jsonl")
                }
            )
        ]
    );
}

fn error(spec: &str) -> String {
    SinkConfig::parse_list(Some(spec)).unwrap_err().to_string()
}

#[test]
fn bad_sink_urls_name_the_setting_and_what_is_accepted() {
    assert_eq!(
        error("kafka://broker/topic"),
        "CDC_SINKS: unknown scheme \"kafka\" in \"kafka://broker/topic\"; accepted: stdout, file:///ABSOLUTE/PATH.jsonl, dynamodb://TABLE, s3://BUCKET/PREFIX, opensearch+https://HOST[:PORT]/INDEX, opensearch+http://HOST[:PORT]/INDEX, sqs://QUEUE (name or https:// URL), sns://TOPIC_ARN, kinesis://STREAM, events://BUS"
    );
    assert_eq!(
        error("stdout?pretty=true"),
        "CDC_SINKS: \"stdout?pretty=true\" has unknown option \"pretty\"; accepted options: none"
    );
    assert_eq!(
        error("file://relative.jsonl"),
        "CDC_SINKS: \"file://relative.jsonl\": a file URL needs an absolute path: file:///ABSOLUTE/PATH.jsonl"
    );
    assert!(error("stdout,,stdout").contains("empty entry"));
    assert!(error("file:///a?x=1&x=2").contains("given more than once"));
}

#[test]
fn dead_letter_queue_defaults_to_stderr_and_rejects_unknown_schemes() {
    assert_eq!(
        DeadLetterConfig::parse(None).unwrap(),
        DeadLetterConfig::Stderr
    );
    assert_eq!(
        DeadLetterConfig::parse(Some("stdout")).unwrap(),
        DeadLetterConfig::Stdout
    );
    assert_eq!(
        DeadLetterConfig::parse(Some("file:///tmp/dlq.jsonl")).unwrap(),
        DeadLetterConfig::File {
            path: PathBuf::from("/tmp/dlq.jsonl")
        }
    );
    let err = DeadLetterConfig::parse(Some("bin://x")).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::UnknownScheme {
            setting: "CDC_DLQ",
            ..
        }
    ));
    assert!(err
        .to_string()
        .contains("accepted: stderr, stdout, file:///ABSOLUTE/PATH.jsonl"));
}

#[tokio::test]
async fn a_file_that_cannot_be_opened_fails_at_cold_start() {
    let config = SinkConfig::parse("file:///nonexistent-dir/x/out.jsonl").unwrap();
    let err = match config
        .build("file:///nonexistent-dir/x/out.jsonl", &Default::default())
        .await
    {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a file in a missing directory"),
    };
    assert!(
        err.starts_with("CDC_SINKS: cannot open /nonexistent-dir/x/out.jsonl: "),
        "{err}"
    );
}
