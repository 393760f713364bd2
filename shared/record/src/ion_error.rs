//! Why a line of an ION export cannot become a DYNAMODB_JSON line, and where.

use crate::canonical::NumberRange;

/// Why a line of an ION export has no DYNAMODB_JSON equivalent. `path` locates the value
/// (`Item.tags[2]`, empty for the line itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IonError {
    /// The line is not valid Ion text.
    #[error("not Ion text{}: {message}", at_byte(*.offset))]
    Syntax {
        /// The byte offset in the line where ion-rs found the fault, when it says.
        offset: Option<usize>,
        /// ion-rs's description of the fault (its first line).
        message: String,
    },
    #[error(
        "containers nest more than {limit} deep at byte {offset} (DynamoDB items nest at most 32 levels)"
    )]
    /// Lists and structs nest deeper than the parser allows (checked before parsing, so a
    /// hostile line cannot exhaust the stack).
    TooDeep {
        /// The byte offset of the bracket that went past the limit.
        offset: usize,
        /// The deepest nesting allowed.
        limit: usize,
    },
    /// The line holds an S-expression, which no DynamoDB value is.
    #[error("an S-expression at byte {offset}: no DynamoDB value is one")]
    SExp {
        /// The byte offset of the S-expression's opening parenthesis.
        offset: usize,
    },
    /// A value of the wrong Ion type where the line's structure wants another, such as a list
    /// where the item struct should be.
    #[error("{}: expected {expected}, found {found}", location(path))]
    Shape {
        /// Where the value is (empty for the line itself).
        path: String,
        /// What belongs there, in words.
        expected: &'static str,
        /// The Ion type found instead.
        found: &'static str,
    },
    #[error("{}: an Ion {found} is no DynamoDB value (those are string, symbol, decimal, int, bool, null, blob, struct, list and $dynamodb_SS/NS/BS-annotated lists)", location(path))]
    /// An attribute value of an Ion type that has no DynamoDB counterpart (float, timestamp,
    /// clob...).
    Type {
        /// Where the value is.
        path: String,
        /// Its Ion type.
        found: &'static str,
    },
    #[error("{}: annotation {annotation:?} on {on}; DynamoDB values carry none but $dynamodb_SS, $dynamodb_NS or $dynamodb_BS, alone, on a list", location(path))]
    /// A value carries an annotation other than the set annotations DynamoDB writes.
    Annotation {
        /// Where the value is.
        path: String,
        /// The unexpected annotation (`$0` when it has no text).
        annotation: String,
        /// The Ion type of the annotated value.
        on: &'static str,
    },
    #[error(
        "{}: a field name or symbol without text (symbol ID only)",
        location(path)
    )]
    /// A field name or symbol given only by a symbol ID, so its text is unknown.
    NoText {
        /// Where it is.
        path: String,
    },
    #[error("{}: {value} is no DynamoDB number: {why}", location(path))]
    /// A decimal or int that DynamoDB could not store.
    Number {
        /// Where it is.
        path: String,
        /// The number as Ion wrote it.
        value: String,
        /// Which of DynamoDB's limits it breaks.
        why: NumberRange,
    },
    #[error(
        "{}: {value} is not a whole number of microseconds since the epoch",
        location(path)
    )]
    /// An incremental export's `Metadata.WriteTimestampMicros` is not a whole, non-negative
    /// number of microseconds.
    WriteTimestamp {
        /// Where it is.
        path: String,
        /// The value found.
        value: String,
    },
}

fn at_byte(offset: Option<usize>) -> String {
    offset.map(|o| format!(" at byte {o}")).unwrap_or_default()
}

fn location(path: &str) -> String {
    if path.is_empty() {
        "the line".to_owned()
    } else {
        format!("at {path}")
    }
}

impl IonError {
    pub(crate) fn from_ion(error: ion_rs::IonError) -> Self {
        let offset = match &error {
            ion_rs::IonError::Decoding(e) => e.position().map(|p| p.byte_offset()),
            ion_rs::IonError::Incomplete(e) => Some(e.position().byte_offset()),
            _ => None,
        };
        // ion-rs appends its parser's context on further lines; the first says what is wrong.
        let text = error.to_string();
        let message = text.lines().next().unwrap_or_default().trim().to_owned();
        IonError::Syntax { offset, message }
    }

    /// The same error, located one level further out: under the field `name`.
    pub(crate) fn in_field(self, name: &str) -> Self {
        self.under(name)
    }

    /// The same error, located one level further out: at index `index` of a list.
    pub(crate) fn in_element(self, index: usize) -> Self {
        self.under(&format!("[{index}]"))
    }

    /// Paths are built on the way out of the recursion, so a good line pays nothing for them.
    fn under(mut self, segment: &str) -> Self {
        if let Some(path) = self.path_mut() {
            let separator = if path.is_empty() || path.starts_with('[') {
                ""
            } else {
                "."
            };
            *path = format!("{segment}{separator}{path}");
        }
        self
    }

    fn path_mut(&mut self) -> Option<&mut String> {
        match self {
            IonError::Syntax { .. } | IonError::TooDeep { .. } | IonError::SExp { .. } => None,
            IonError::Shape { path, .. }
            | IonError::Type { path, .. }
            | IonError::Annotation { path, .. }
            | IonError::NoText { path }
            | IonError::Number { path, .. }
            | IonError::WriteTimestamp { path, .. } => Some(path),
        }
    }
}
