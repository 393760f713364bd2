//! The sink every messaging service shares: records become [`Message`]s, which the delivery
//! loop sends through the service's [`Transport`].

use async_trait::async_trait;
use cdc_record::ChangeRecord;
use tokio::time::{timeout_at, Instant};

use super::deliver;
use super::message::{Format, Message};
use super::transport::{CallFailure, MessagingError, Transport};
use crate::sink::{DeadlineExceeded, Failure, FailureKind, Sink, WriteReport};

/// A messaging sink: the records of one `write` become messages for `T`.
pub struct MessagingSink<T> {
    name: String,
    format: Format,
    transport: T,
}

impl<T> MessagingSink<T> {
    pub(crate) fn new(name: &str, format: Format, transport: T) -> Self {
        MessagingSink {
            name: name.to_owned(),
            format,
            transport,
        }
    }
}

#[async_trait]
impl<T: Transport> Sink for MessagingSink<T> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&self, records: &[ChangeRecord<'_>], deadline: Instant) -> WriteReport {
        let mut destinations = std::collections::HashMap::new();
        let mut slots = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            let table: &str = &record.table_name;
            let destination = match destinations.get(table) {
                Some(destination) => Result::clone(destination),
                None => {
                    let destination = resolve(&self.transport, table, deadline).await;
                    destinations.insert(table, destination.clone());
                    destination
                }
            };
            let item = deliver::ItemKey::of(record);
            let state = match destination {
                Ok(destination) => {
                    message(&self.transport, index, record, self.format, destination)
                }
                Err(CallFailure { kind, error }) => Err(Failure { index, kind, error }),
            };
            slots.push(deliver::Slot { item, state });
        }
        WriteReport {
            failures: deliver::deliver(&self.transport, slots, deadline).await,
        }
    }

    fn api_calls(&self) -> u64 {
        self.transport.api_calls()
    }
}

/// The record's message, or a permanent failure if it can never fit.
fn message<T: Transport>(
    transport: &T,
    index: usize,
    record: &ChangeRecord<'_>,
    format: Format,
    destination: String,
) -> Result<Message, Failure> {
    let message = Message::new(index, record, format, destination);
    let size = transport.entry_bytes(&message);
    match T::LIMITS.entry_bytes {
        Some(limit) if size > limit => Err(Failure {
            index,
            kind: FailureKind::Permanent,
            error: std::sync::Arc::new(MessagingError::TooLarge {
                service: T::SERVICE,
                size,
                limit,
            }),
        }),
        _ => Ok(message),
    }
}

async fn resolve<T: Transport>(
    transport: &T,
    table: &str,
    deadline: Instant,
) -> Result<String, CallFailure> {
    timeout_at(deadline, transport.destination(table))
        .await
        .unwrap_or_else(|_| {
            Err(CallFailure {
                kind: FailureKind::Retryable,
                error: std::sync::Arc::new(DeadlineExceeded),
            })
        })
}
