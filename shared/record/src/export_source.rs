//! What the lines of one export share: which export it is and how its lines are versioned.
//! Apart from the mapping, so that the full and incremental line mappings both take it
//! without importing each other.

use crate::key::KeySchema;
use crate::options::MappingOptions;

/// Which export a data file belongs to: what versions and timestamps its lines get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// A full export (`{"Item": {...}}` lines): every item as of the export time.
    Full {
        /// `ExportTime`, in milliseconds since the epoch.
        export_time_ms: i64,
    },
    /// An incremental export: the last state of each item changed in the window
    /// `[from_ms, to_ms)` (`IncrementalExportSpecification`'s `ExportFromTime`/`ExportToTime`,
    /// in milliseconds since the epoch).
    Incremental {
        /// `ExportFromTime`, in milliseconds since the epoch (included).
        from_ms: i64,
        /// `ExportToTime`, in milliseconds since the epoch (excluded).
        to_ms: i64,
    },
}

/// What every line of one export shares.
#[derive(Debug, Clone)]
pub struct ExportSource<'s> {
    /// The exported table, written into every change record.
    pub table_name: &'s str,
    /// The table's key attributes, to render each item's key.
    pub key_schema: &'s KeySchema,
    /// Full or incremental, which decides each line's version and timestamp.
    pub kind: ExportKind,
    /// See [`crate::version::DEFAULT_EXPORT_MARGIN_MS`].
    pub version_margin_ms: i64,
    /// `view_on_remove` decides the document of an incremental export's deletes.
    pub options: MappingOptions,
}
