//! The delivery loop every messaging sink shares: rounds of calls packed to the service's
//! limits, at most one record per item in flight, per-entry failures retried with backoff.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use cdc_record::ChangeRecord;
use futures::stream::{self, StreamExt};
use tokio::time::{timeout_at, Instant};

use super::message::Message;
use super::transport::{entry_failure_kind, CallFailure, MessagingError, Transport};
use crate::retry::Backoff;
use crate::sink::{DeadlineExceeded, Failure, FailureKind, SharedError};

/// The item a record changes: order is kept per item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ItemKey {
    table: String,
    primary_key: String,
}

impl ItemKey {
    pub fn new(table: &str, primary_key: &str) -> Self {
        ItemKey {
            table: table.to_owned(),
            primary_key: primary_key.to_owned(),
        }
    }

    pub fn of(record: &ChangeRecord<'_>) -> Self {
        ItemKey {
            table: record.table_name.to_string(),
            primary_key: record.key.primary_key.to_string(),
        }
    }
}

/// One record of the batch: its message, or why it cannot be sent.
pub(crate) struct Slot {
    pub item: ItemKey,
    pub state: Result<Message, Failure>,
}

/// A message waiting for its turn, with the error of its last attempt.
struct Pending {
    message: Message,
    last_error: Option<SharedError>,
}

/// What became of one entry of a call.
enum Outcome {
    Sent,
    /// Invalid for good: dead-letter it; the item's later records may go.
    Rejected(SharedError),
    /// Failed this time; try again after a backoff.
    Retry(SharedError),
    /// The call itself failed (after the SDK's retries) or the deadline came: stop.
    Stop(SharedError),
}

/// Sends every slot's message; returns the records not accepted.
pub(crate) async fn deliver<T: Transport>(
    transport: &T,
    slots: Vec<Slot>,
    deadline: Instant,
) -> Vec<Failure> {
    let (mut queues, mut failures) = queue_per_item(slots);
    let mut backoff = Backoff::default();
    let mut stopped: Option<SharedError> = None;
    loop {
        let round = take_round(&mut queues);
        if round.is_empty() {
            break;
        }
        let mut outcomes = send_round(transport, &round, deadline).await;
        let mut retry = false;
        for (item, mut pending) in round {
            match outcomes.remove(&pending.message.index) {
                Some(Outcome::Sent) => {}
                Some(Outcome::Rejected(error)) => failures.push(Failure {
                    index: pending.message.index,
                    kind: FailureKind::Permanent,
                    error,
                }),
                Some(Outcome::Retry(error)) => {
                    retry = true;
                    pending.last_error = Some(error);
                    put_back(&mut queues, item, pending);
                }
                Some(Outcome::Stop(error)) => {
                    stopped.get_or_insert_with(|| error.clone());
                    pending.last_error = Some(error);
                    put_back(&mut queues, item, pending);
                }
                // Every entry of a call gets an outcome; should one not, send it again.
                None => {
                    retry = true;
                    put_back(&mut queues, item, pending);
                }
            }
        }
        if stopped.is_some() {
            break;
        }
        if retry && !backoff.wait(deadline).await {
            break;
        }
    }
    failures.extend(unsent(queues, stopped));
    failures.sort_by_key(|f| f.index);
    failures
}

/// Each item's messages in batch order. A record that failed before sending fails alone if
/// permanently (the item goes on); if retryably, the item's later records cannot go either.
fn queue_per_item(slots: Vec<Slot>) -> (HashMap<ItemKey, VecDeque<Pending>>, Vec<Failure>) {
    let mut queues: HashMap<ItemKey, VecDeque<Pending>> = HashMap::new();
    let mut blocked: HashMap<ItemKey, usize> = HashMap::new();
    let mut failures = Vec::new();
    for Slot { item, state } in slots {
        match state {
            Ok(message) => match blocked.get(&item) {
                Some(&earlier) => failures.push(blocked_failure(message.index, earlier)),
                None => queues.entry(item).or_default().push_back(Pending {
                    message,
                    last_error: None,
                }),
            },
            Err(failure) => {
                if failure.kind == FailureKind::Retryable {
                    blocked.entry(item).or_insert(failure.index);
                }
                failures.push(failure);
            }
        }
    }
    (queues, failures)
}

/// The first waiting message of every item, in batch order.
fn take_round(queues: &mut HashMap<ItemKey, VecDeque<Pending>>) -> Vec<(ItemKey, Pending)> {
    let mut round: Vec<(ItemKey, Pending)> = queues
        .iter_mut()
        .filter_map(|(item, queue)| queue.pop_front().map(|p| (item.clone(), p)))
        .collect();
    queues.retain(|_, queue| !queue.is_empty());
    round.sort_by_key(|(_, p)| p.message.index);
    round
}

fn put_back(queues: &mut HashMap<ItemKey, VecDeque<Pending>>, item: ItemKey, pending: Pending) {
    queues.entry(item).or_default().push_front(pending);
}

/// What is still queued when the loop ends: each item's first record with the error that
/// kept it back, the records behind it as blocked by it.
fn unsent(
    queues: HashMap<ItemKey, VecDeque<Pending>>,
    stopped: Option<SharedError>,
) -> Vec<Failure> {
    let mut failures = Vec::new();
    for queue in queues.into_values() {
        let mut queue = queue.into_iter();
        let Some(first) = queue.next() else { continue };
        let error = first
            .last_error
            .or_else(|| stopped.clone())
            .unwrap_or_else(|| Arc::new(DeadlineExceeded));
        failures.push(Failure {
            index: first.message.index,
            kind: FailureKind::Retryable,
            error,
        });
        failures.extend(queue.map(|p| blocked_failure(p.message.index, first.message.index)));
    }
    failures
}

fn blocked_failure(index: usize, earlier: usize) -> Failure {
    Failure {
        index,
        kind: FailureKind::Retryable,
        error: Arc::new(MessagingError::Blocked { earlier }),
    }
}

/// One call: entries for one destination within the service's limits.
struct Call<'m> {
    destination: &'m str,
    entries: Vec<&'m Message>,
    bytes: usize,
}

/// Packs the round into calls (in batch order per destination) and sends them.
async fn send_round<T: Transport>(
    transport: &T,
    round: &[(ItemKey, Pending)],
    deadline: Instant,
) -> HashMap<usize, Outcome> {
    let messages: Vec<&Message> = round.iter().map(|(_, p)| &p.message).collect();
    let calls: Vec<_> = pack(transport, &messages)
        .into_iter()
        .map(|call| send_call(transport, call.destination, call.entries, deadline))
        .collect();
    let mut outcomes = HashMap::with_capacity(messages.len());
    let mut sending = stream::iter(calls).buffer_unordered(T::CONCURRENT_CALLS);
    while let Some(call_outcomes) = sending.next().await {
        outcomes.extend(call_outcomes);
    }
    outcomes
}

fn pack<'m, T: Transport>(transport: &T, messages: &[&'m Message]) -> Vec<Call<'m>> {
    let limits = T::LIMITS;
    let mut calls: Vec<Call<'m>> = Vec::new();
    // The call still being filled for each destination.
    let mut open: HashMap<&'m str, usize> = HashMap::new();
    for &message in messages {
        let bytes = transport.entry_bytes(message);
        let destination = message.destination.as_str();
        let fits = open
            .get(destination)
            .map(|&at| &calls[at])
            .is_some_and(|call| {
                call.entries.len() < limits.entries && call.bytes + bytes <= limits.call_bytes
            });
        match open.get(destination) {
            Some(&at) if fits => {
                calls[at].entries.push(message);
                calls[at].bytes += bytes;
            }
            _ => {
                open.insert(destination, calls.len());
                calls.push(Call {
                    destination,
                    entries: vec![message],
                    bytes,
                });
            }
        }
    }
    calls
}

/// Sends one call; a call rejected as invalid as a whole is split into single entries to
/// find the one at fault, so one bad record does not take the others with it.
async fn send_call<T: Transport>(
    transport: &T,
    destination: &str,
    entries: Vec<&Message>,
    deadline: Instant,
) -> Vec<(usize, Outcome)> {
    let result = match timeout_at(deadline, transport.send(destination, &entries)).await {
        Err(_) => Err(CallFailure {
            kind: FailureKind::Retryable,
            error: Arc::new(DeadlineExceeded),
        }),
        Ok(result) => result,
    };
    match result {
        Ok(results) => entries
            .iter()
            .enumerate()
            .map(|(at, message)| (message.index, entry_outcome::<T>(results.get(at))))
            .collect(),
        Err(failure) if failure.kind == FailureKind::Permanent && entries.len() > 1 => {
            let mut outcomes = Vec::with_capacity(entries.len());
            for entry in entries {
                let single = Box::pin(send_call(transport, destination, vec![entry], deadline));
                outcomes.extend(single.await);
            }
            outcomes
        }
        Err(CallFailure { kind, error }) => entries
            .iter()
            .map(|message| {
                let outcome = match kind {
                    FailureKind::Permanent => Outcome::Rejected(error.clone()),
                    FailureKind::Retryable => Outcome::Stop(error.clone()),
                };
                (message.index, outcome)
            })
            .collect(),
    }
}

fn entry_outcome<T: Transport>(
    result: Option<&Result<(), super::transport::EntryError>>,
) -> Outcome {
    match result {
        Some(Ok(())) => Outcome::Sent,
        Some(Err(e)) => match entry_failure_kind(&e.code) {
            FailureKind::Permanent => Outcome::Rejected(Arc::new(MessagingError::Rejected {
                service: T::SERVICE,
                code: e.code.clone(),
                message: e.message.clone(),
            })),
            FailureKind::Retryable => Outcome::Retry(Arc::new(MessagingError::NotAccepted {
                service: T::SERVICE,
                code: e.code.clone(),
                message: e.message.clone(),
            })),
        },
        None => Outcome::Retry(Arc::new(MessagingError::NotAccepted {
            service: T::SERVICE,
            code: "NoResult".into(),
            message: "the response had no result for this entry".into(),
        })),
    }
}

#[cfg(test)]
mod tests {
    //! The ordering and retry rules against a scripted transport (the services themselves are
    //! exercised against moto in `tests/messaging.rs`, where partial failures cannot be made).

    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use async_trait::async_trait;
    use tokio::time::Instant;

    use super::{deliver, ItemKey, Slot};
    use crate::messaging::message::Message;
    use crate::messaging::transport::{CallFailure, EntryError, Limits, Transport};
    use crate::retry::CallError;
    use crate::sink::{Failure, FailureKind};

    /// How the scripted service answers.
    #[derive(Default)]
    struct Script {
        /// Record index → (attempts to fail, error code).
        entry_failures: HashMap<usize, (usize, &'static str)>,
        /// Fail every call that holds more than one entry, one of them this record, as invalid.
        invalid_with: Option<usize>,
        /// Fail every call as a whole, retryably.
        down: bool,
    }

    #[derive(Default)]
    struct Scripted {
        script: Script,
        attempts: Mutex<HashMap<usize, usize>>,
        /// The record indices of every call, in the order sent.
        calls: Mutex<Vec<Vec<usize>>>,
    }

    #[async_trait]
    impl Transport for Scripted {
        const SERVICE: &'static str = "Scripted";
        const LIMITS: Limits = Limits {
            entries: 10,
            call_bytes: 1000,
            entry_bytes: None,
        };

        fn entry_bytes(&self, message: &Message) -> usize {
            message.body.len()
        }

        async fn destination(&self, _table: &str) -> Result<String, CallFailure> {
            Ok("d".into())
        }

        async fn send(
            &self,
            _destination: &str,
            batch: &[&Message],
        ) -> Result<Vec<Result<(), EntryError>>, CallFailure> {
            let indices: Vec<usize> = batch.iter().map(|m| m.index).collect();
            self.calls.lock().unwrap().push(indices.clone());
            let failure = |kind| CallFailure {
                kind,
                error: std::sync::Arc::new(CallError("scripted".into())),
            };
            if self.script.down {
                return Err(failure(FailureKind::Retryable));
            }
            if batch.len() > 1 && indices.iter().any(|i| Some(*i) == self.script.invalid_with) {
                return Err(failure(FailureKind::Permanent));
            }
            if indices.len() == 1 && Some(indices[0]) == self.script.invalid_with {
                return Err(failure(FailureKind::Permanent));
            }
            let mut attempts = self.attempts.lock().unwrap();
            Ok(indices
                .iter()
                .map(|index| {
                    let attempt = attempts.entry(*index).or_default();
                    *attempt += 1;
                    match self.script.entry_failures.get(index) {
                        Some((times, code)) if *attempt <= *times => Err(EntryError {
                            code: (*code).into(),
                            message: "scripted".into(),
                        }),
                        _ => Ok(()),
                    }
                })
                .collect())
        }

        fn api_calls(&self) -> u64 {
            self.calls.lock().unwrap().len() as u64
        }
    }

    /// Records whose items are named by `items` (one letter per record), bodies of `size` bytes.
    fn slots(items: &str, size: usize) -> Vec<Slot> {
        items
            .chars()
            .enumerate()
            .map(|(index, item)| Slot {
                item: ItemKey {
                    table: "t".into(),
                    primary_key: item.to_string(),
                },
                state: Ok(Message {
                    index,
                    destination: "d".into(),
                    primary_key: item.to_string(),
                    event_name: "MODIFY",
                    timestamp_ms: 0,
                    body: "x".repeat(size),
                    deduplication_id: index.to_string(),
                    attributes: Vec::new(),
                }),
            })
            .collect()
    }

    fn sent(transport: &Scripted) -> Vec<Vec<usize>> {
        transport.calls.lock().unwrap().clone()
    }

    fn summary(failures: &[Failure]) -> Vec<(usize, FailureKind)> {
        failures.iter().map(|f| (f.index, f.kind)).collect()
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test(start_paused = true)]
    async fn packs_calls_to_the_entry_and_byte_limits() {
        let transport = Scripted::default();
        let items: String = ('a'..='y').collect();
        assert!(deliver(&transport, slots(&items, 10), deadline())
            .await
            .is_empty());
        let sizes: Vec<usize> = sent(&transport).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);

        let transport = Scripted::default();
        assert!(deliver(&transport, slots("abcde", 400), deadline())
            .await
            .is_empty());
        assert_eq!(sent(&transport), [vec![0, 1], vec![2, 3], vec![4]]);

        let transport = Scripted::default();
        assert!(deliver(&transport, slots("ab", 1500), deadline())
            .await
            .is_empty());
        assert_eq!(
            sent(&transport),
            [vec![0], vec![1]],
            "an entry over the call budget goes alone"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_record_per_item_per_call() {
        let transport = Scripted::default();
        assert!(deliver(&transport, slots("abab", 10), deadline())
            .await
            .is_empty());
        assert_eq!(sent(&transport), [vec![0, 1], vec![2, 3]]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_entry_holds_back_the_later_records_of_its_item() {
        let transport = Scripted {
            script: Script {
                entry_failures: HashMap::from([(0, (2, "ProvisionedThroughputExceededException"))]),
                ..Script::default()
            },
            ..Scripted::default()
        };
        assert!(deliver(&transport, slots("abaa", 10), deadline())
            .await
            .is_empty());
        assert_eq!(
            sent(&transport),
            [vec![0, 1], vec![0], vec![0], vec![2], vec![3]],
            "record 2 waits until record 0 of the same item is accepted"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejected_entry_is_permanent_and_its_item_goes_on() {
        let transport = Scripted {
            script: Script {
                entry_failures: HashMap::from([(0, (usize::MAX, "InvalidParameterValue"))]),
                ..Script::default()
            },
            ..Scripted::default()
        };
        let failures = deliver(&transport, slots("aa", 10), deadline()).await;
        assert_eq!(summary(&failures), [(0, FailureKind::Permanent)]);
        assert_eq!(sent(&transport), [vec![0], vec![1]]);
    }

    #[tokio::test(start_paused = true)]
    async fn what_still_fails_at_the_deadline_is_retryable_with_the_item_behind_it() {
        let transport = Scripted {
            script: Script {
                entry_failures: HashMap::from([(1, (usize::MAX, "ThrottlingException"))]),
                ..Script::default()
            },
            ..Scripted::default()
        };
        let failures = deliver(&transport, slots("abab", 10), deadline()).await;
        assert_eq!(
            summary(&failures),
            [(1, FailureKind::Retryable), (3, FailureKind::Retryable)]
        );
        assert!(failures[0]
            .error
            .to_string()
            .contains("ThrottlingException"));
        assert!(failures[1]
            .error
            .to_string()
            .contains("record 1 of the same item"));
        assert!(sent(&transport).iter().all(|call| !call.contains(&3)));
        assert!(
            sent(&transport).iter().any(|call| call.contains(&2)),
            "item a went on"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_stops_the_write_with_everything_retryable() {
        let transport = Scripted {
            script: Script {
                down: true,
                ..Script::default()
            },
            ..Scripted::default()
        };
        let failures = deliver(&transport, slots("abab", 10), deadline()).await;
        assert_eq!(
            summary(&failures),
            [0, 1, 2, 3].map(|i| (i, FailureKind::Retryable))
        );
        assert_eq!(
            sent(&transport).len(),
            1,
            "no more calls after the endpoint failed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_rejected_as_a_whole_is_split_to_find_the_bad_entry() {
        let transport = Scripted {
            script: Script {
                invalid_with: Some(1),
                ..Script::default()
            },
            ..Scripted::default()
        };
        let failures = deliver(&transport, slots("abc", 10), deadline()).await;
        assert_eq!(summary(&failures), [(1, FailureKind::Permanent)]);
        assert_eq!(sent(&transport), [vec![0, 1, 2], vec![0], vec![1], vec![2]]);
    }
}
