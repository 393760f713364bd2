//! Dead letters as JSON Lines on stdout, stderr or a file.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{DeadLetter, DeadLetterError, DeadLetterQueue};
use crate::output::LineOutput;

/// Dead letters as JSON Lines on stdout, stderr or a file.
pub struct JsonLinesDeadLetters {
    name: String,
    output: LineOutput,
}

impl JsonLinesDeadLetters {
    /// Letters written to `output`, which `name` names in logs and errors.
    pub fn new(name: impl Into<String>, output: LineOutput) -> Self {
        JsonLinesDeadLetters {
            name: name.into(),
            output,
        }
    }
}

#[async_trait]
impl DeadLetterQueue for JsonLinesDeadLetters {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(
        &self,
        letters: &[DeadLetter<'_>],
        _deadline: Instant,
    ) -> Result<(), DeadLetterError> {
        if letters.is_empty() {
            return Ok(());
        }
        let mut out = Vec::new();
        for letter in letters {
            letter.write_json_line(&mut out);
        }
        self.output.write(out).await.map_err(|e| DeadLetterError {
            queue: self.name.clone(),
            sent: 0,
            error: Arc::new(e),
        })
    }
}
