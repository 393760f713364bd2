//! Mapping settings shared by every source.

/// What a REMOVE's `document` holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ViewOnRemove {
    /// No document (`null`), as Data Prepper.
    #[default]
    NewImage,
    /// The old image, or the keys when the stream has no old image.
    OldImage,
}

/// What happens to deletes made by DynamoDB's TTL process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TtlDeletes {
    /// Deliver them, flagged `ttl_delete: true`.
    #[default]
    Keep,
    /// Leave them out (an archive that should keep expired items).
    Drop,
}

/// Mapping settings shared by every source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MappingOptions {
    /// What a REMOVE's document holds (`CDC_VIEW_ON_REMOVE`).
    pub view_on_remove: ViewOnRemove,
    /// Whether TTL deletes are delivered or left out (`CDC_TTL_DELETES`).
    pub ttl_deletes: TtlDeletes,
}
