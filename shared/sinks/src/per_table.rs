//! Destination names with `{table}`: each source table to its own replica, index, prefix.

use std::borrow::Cow;

/// A name in which `{table}` stands for the source table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerTable(String);

impl PerTable {
    /// A name from its template, as written in the URL (`{table}` optional).
    pub fn new(template: impl Into<String>) -> Self {
        PerTable(template.into())
    }

    /// The name for the source table `table`: every `{table}` replaced by it (borrowed when
    /// the template has none).
    pub fn for_table<'t>(&'t self, table: &str) -> Cow<'t, str> {
        if self.0.contains("{table}") {
            Cow::Owned(self.0.replace("{table}", table))
        } else {
            Cow::Borrowed(&self.0)
        }
    }

    /// The name as written, `{table}` not replaced.
    pub fn template(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::PerTable;

    #[test]
    fn substitutes_the_table() {
        assert_eq!(
            PerTable::new("{table}-replica").for_table("orders"),
            "orders-replica"
        );
        assert_eq!(PerTable::new("replica").for_table("orders"), "replica");
    }
}
