//! Metrics in CloudWatch Embedded Metric Format (EMF): one JSON line per invocation on stdout,
//! which CloudWatch Logs turns into metrics without any API call from the function.
//!
//! Counter names follow OpenSearch Data Prepper's `dynamodb` source, so dashboards and alarms
//! carry over.

use serde_json::{json, Map, Value};

/// Data Prepper's counter names, plus our latency.
pub mod names {
    /// Stream records written to every sink in this invocation (stream-handler).
    pub const CHANGE_EVENTS_PROCESSED: &str = "changeEventsProcessed";
    /// Stream records that could not be mapped or written and went to the dead-letter queue
    /// instead (stream-handler).
    pub const CHANGE_EVENTS_PROCESSING_ERRORS: &str = "changeEventsProcessingErrors";
    /// Stream records the mapping options dropped on purpose, such as TTL deletes when
    /// `ttl_deletes` is `drop` (stream-handler).
    pub const CHANGE_EVENTS_FILTERED: &str = "changeEventsFiltered";
    /// Stream records from the first failure to the end of the batch, which Lambda sends again
    /// in a later invocation (stream-handler).
    pub const CHANGE_EVENTS_FAILED: &str = "changeEventsFailed";
    /// Milliseconds from a change in DynamoDB to its write in the sinks, one value per written
    /// record (a distribution; stream-handler).
    pub const CHANGE_EVENT_LATENCY: &str = "changeEventLatency";
    /// 1 for a batch that moved its shard forward (its first record was written, filtered or
    /// dead-lettered), 0 for one that failed from its first record or was empty (stream-handler).
    pub const SHARD_PROGRESS: &str = "shardProgress";
    /// Per sink (dimension `Sink`): records it durably accepted.
    pub const SINK_RECORDS_WRITTEN: &str = "sinkRecordsWritten";
    /// Per sink: records it asked to retry.
    pub const SINK_RECORDS_RETRIED: &str = "sinkRecordsRetried";
    /// Per sink: records it rejected for good (dead-lettered).
    pub const SINK_RECORDS_REJECTED: &str = "sinkRecordsRejected";
    /// Per sink: how long its write of the batch took.
    pub const SINK_WRITE_LATENCY: &str = "sinkWriteLatency";
    /// Stream records dead-lettered because a sink still failed them past `CDC_MAX_RECORD_AGE`.
    pub const CHANGE_EVENTS_DEAD_LETTERED_FOR_AGE: &str = "changeEventsDeadLetteredForAge";
    /// DynamoDB exports that completed (export-trigger, once per export).
    pub const EXPORT_JOB_SUCCESS: &str = "exportJobSuccess";
    /// Export attempts that DynamoDB reported as failed (export-trigger, once per attempt).
    pub const EXPORT_JOB_FAILURE: &str = "exportJobFailure";
    /// Data files listed in a completed export's manifest.
    pub const EXPORT_S3_OBJECTS_TOTAL: &str = "exportS3ObjectsTotal";
    /// Data files loaded to their end (export-processor).
    pub const EXPORT_S3_OBJECTS_PROCESSED: &str = "exportS3ObjectsProcessed";
    /// Items a completed export's manifest says its data files hold.
    pub const EXPORT_RECORDS_TOTAL: &str = "exportRecordsTotal";
    /// Export items written to the sinks (export-processor).
    pub const EXPORT_RECORDS_PROCESSED: &str = "exportRecordsProcessed";
    /// Export lines that went to the dead-letter queue instead of the sinks (export-processor).
    pub const EXPORT_RECORDS_PROCESSING_ERRORS: &str = "exportRecordsProcessingErrors";
    /// Milliseconds since an export not yet loaded was started (ours; its alarm says a load
    /// takes too long: snapshot copies are safe only while sinks remember deletes).
    pub const EXPORT_LOAD_AGE: &str = "exportLoadAge";
    /// Tables whose last export ended without a complete load and waits for an operator
    /// (ours; counted on every run while it lasts, so its alarm stays on).
    pub const EXPORT_JOBS_BLOCKED: &str = "exportJobsBlocked";
    /// Data files whose line count or MD5 differs from their manifest entry (ours).
    pub const EXPORT_S3_OBJECTS_MISMATCHED: &str = "exportS3ObjectsMismatched";
}

/// CloudWatch units used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain count of events or items.
    Count,
    /// A duration in milliseconds.
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// EMF allows at most 100 values per metric in one line.
const MAX_VALUES: usize = 100;

/// The metrics of one invocation.
#[derive(Debug, Clone)]
pub struct Metrics {
    namespace: String,
    dimensions: Vec<(String, String)>,
    metrics: Vec<(&'static str, Unit, Vec<f64>)>,
    /// Metrics under more dimensions (one per sink, say), each its own EMF line.
    sections: Vec<Metrics>,
}

impl Metrics {
    /// No metrics yet, published under the CloudWatch `namespace` with every `(name, value)`
    /// pair of `dimensions` as the metrics' one dimension set.
    pub fn new(namespace: impl Into<String>, dimensions: Vec<(String, String)>) -> Self {
        Metrics {
            namespace: namespace.into(),
            dimensions,
            metrics: Vec::new(),
            sections: Vec::new(),
        }
    }

    /// The metrics published with these dimensions plus `extra` (for example
    /// `("Sink", "dynamodb://orders")`), created on first use; written as a line of their own.
    pub fn section(&mut self, extra: Vec<(String, String)>) -> &mut Metrics {
        let mut dimensions = self.dimensions.clone();
        dimensions.extend(extra);
        let at = match self
            .sections
            .iter()
            .position(|s| s.dimensions == dimensions)
        {
            Some(at) => at,
            None => {
                self.sections
                    .push(Metrics::new(self.namespace.clone(), dimensions));
                self.sections.len() - 1
            }
        };
        &mut self.sections[at]
    }

    /// The section with exactly these extra dimensions, if any (for tests and benchmarks).
    pub fn section_of(&self, extra: &[(String, String)]) -> Option<&Metrics> {
        self.sections.iter().find(|s| {
            s.dimensions.ends_with(extra)
                && s.dimensions.len() == self.dimensions.len() + extra.len()
        })
    }

    /// Adds `n` to a counter.
    pub fn count(&mut self, name: &'static str, n: u64) {
        let entry = self.entry(name, Unit::Count);
        match entry.first_mut() {
            Some(total) => *total += n as f64,
            None => entry.push(n as f64),
        }
    }

    /// Records a distribution, sampled evenly down to the 100 values EMF takes per metric.
    pub fn distribution(&mut self, name: &'static str, unit: Unit, values: &[f64]) {
        let step = values.len().div_ceil(MAX_VALUES).max(1);
        let sampled = values.iter().step_by(step).copied();
        self.entry(name, unit).extend(sampled);
    }

    /// The counter's value (0 when never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.values(name).first().map_or(0, |v| *v as u64)
    }

    /// Every value recorded under `name`: one total for a counter, the sampled values for a
    /// distribution, empty when nothing was recorded.
    pub fn values(&self, name: &str) -> &[f64] {
        self.metrics
            .iter()
            .find(|(n, _, _)| *n == name)
            .map_or(&[], |(_, _, v)| v.as_slice())
    }

    /// The EMF JSON line (without newline), then one line per section.
    pub fn to_emf(&self, timestamp_ms: i64) -> String {
        let mut lines = vec![self.emf_line(timestamp_ms)];
        lines.extend(self.sections.iter().map(|s| s.to_emf(timestamp_ms)));
        lines.join("\n")
    }

    fn emf_line(&self, timestamp_ms: i64) -> String {
        let dimension_names: Vec<&str> = self.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        let definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimension_names],
                    "Metrics": definitions,
                }],
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), Value::from(value.as_str()));
        }
        for (name, _, values) in &self.metrics {
            let value = match values.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            root.insert((*name).into(), value);
        }
        Value::Object(root).to_string()
    }

    fn entry(&mut self, name: &'static str, unit: Unit) -> &mut Vec<f64> {
        let at = match self.metrics.iter().position(|(n, _, _)| *n == name) {
            Some(at) => at,
            None => {
                self.metrics.push((name, unit, Vec::new()));
                self.metrics.len() - 1
            }
        };
        &mut self.metrics[at].2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_lines_of_their_own_with_the_extra_dimension() {
        let mut m = Metrics::new("DynamoDbCdc", vec![("FunctionName".into(), "fn".into())]);
        m.count(names::CHANGE_EVENTS_PROCESSED, 1);
        let sink = vec![("Sink".to_owned(), "s3://b/p".to_owned())];
        m.section(sink.clone())
            .count(names::SINK_RECORDS_WRITTEN, 2);
        m.section(sink.clone())
            .count(names::SINK_RECORDS_WRITTEN, 3);
        let text = m.to_emf(1);
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["Sink"], "s3://b/p");
        assert_eq!(lines[1]["FunctionName"], "fn");
        assert_eq!(lines[1][names::SINK_RECORDS_WRITTEN], 5.0);
        assert_eq!(
            lines[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName", "Sink"]])
        );
        assert_eq!(
            m.section_of(&sink)
                .unwrap()
                .counter(names::SINK_RECORDS_WRITTEN),
            5
        );
    }

    #[test]
    fn writes_an_emf_document_cloudwatch_accepts() {
        let mut m = Metrics::new("DynamoDbCdc", vec![("FunctionName".into(), "fn".into())]);
        m.count(names::CHANGE_EVENTS_PROCESSED, 3);
        m.count(names::CHANGE_EVENTS_PROCESSED, 2);
        m.count(names::CHANGE_EVENTS_PROCESSING_ERRORS, 0);
        m.distribution(names::CHANGE_EVENT_LATENCY, Unit::Milliseconds, &[5.0, 7.0]);
        let line: Value = serde_json::from_str(&m.to_emf(1_700_000_000_000)).unwrap();
        assert_eq!(
            line,
            json!({
                "_aws": {"Timestamp": 1_700_000_000_000i64, "CloudWatchMetrics": [{
                    "Namespace": "DynamoDbCdc",
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [
                        {"Name": "changeEventsProcessed", "Unit": "Count"},
                        {"Name": "changeEventsProcessingErrors", "Unit": "Count"},
                        {"Name": "changeEventLatency", "Unit": "Milliseconds"},
                    ]}]},
                "FunctionName": "fn",
                "changeEventsProcessed": 5.0,
                "changeEventsProcessingErrors": 0.0,
                "changeEventLatency": [5.0, 7.0],
            })
        );
        assert_eq!(m.counter(names::CHANGE_EVENTS_PROCESSED), 5);
    }

    #[test]
    fn samples_distributions_down_to_100_values() {
        let mut m = Metrics::new("n", vec![]);
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        m.distribution(names::CHANGE_EVENT_LATENCY, Unit::Milliseconds, &values);
        assert_eq!(m.values(names::CHANGE_EVENT_LATENCY).len(), 100);
        assert_eq!(m.values(names::CHANGE_EVENT_LATENCY)[1], 10.0);
    }
}
