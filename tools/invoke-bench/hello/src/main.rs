//! The hello-world function of the Rust runtime's README, taking stream events as
//! `serde_json::Value`: what any Rust function pays before doing work. The invocation-cost
//! benchmark compares our functions' cold init and peak RSS with it.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let records = event.payload["Records"].as_array().map_or(0, Vec::len);
        Ok::<_, Error>(json!({ "batchItemFailures": [], "records": records }))
    }))
    .await
}
