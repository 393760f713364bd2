//! Projection: which attributes a sink may hold. A sink configured with `include` keeps only
//! the attributes named (and the key attributes), one with `exclude` drops those named; both
//! apply to every image the sink writes: the document, the old image a REMOVE may carry, and
//! the `NewImage`/`OldImage` of a raw stream record (`format=raw`). So an attribute a sink must
//! not hold (PII) never reaches it, whatever the format.
//!
//! Attributes are named with JSON Pointers (RFC 6901): `/address/zip` is the member `zip` of
//! the map attribute `address`, `/tags/0` the first element of the list `tags`; `~1` stands
//! for `/` and `~0` for `~` inside a name, so any attribute name can be written. A projected
//! image keeps its attributes sorted by name.

use serde_json::{Map, Value};

use crate::change::{ChangeRecord, Document};
use crate::error::Reason;
use crate::fast::transcode;

/// Keep only, or drop, the attributes at these paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    include: bool,
    paths: Vec<Vec<String>>,
}

/// Why a projection cannot be set up or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    /// A path is not a JSON Pointer to an attribute.
    #[error("{0:?} is not a JSON Pointer to an attribute (/NAME, /NAME/MEMBER, /LIST/0; ~1 for / and ~0 for ~ in names)")]
    Pointer(String),
    /// An exclude path names a key attribute, which every destination needs.
    #[error(
        "key attribute {0:?} cannot be excluded: every destination addresses items by their key"
    )]
    KeyExcluded(String),
    /// The image or record to project is not the JSON it must be.
    #[error("cannot project {0}: it is not the JSON of a DynamoDB image")]
    NotAnImage(&'static str),
}

/// Owned texts a projected record borrows from (see [`Projection::texts`]).
#[derive(Debug, Default)]
pub struct ProjectedTexts {
    raw: String,
    image: Option<String>,
}

impl Projection {
    /// Keeps only the attributes at `pointers` (key attributes always stay).
    pub fn include(pointers: &[String]) -> Result<Self, ProjectionError> {
        Self::new(true, pointers)
    }

    /// Drops the attributes at `pointers`.
    pub fn exclude(pointers: &[String]) -> Result<Self, ProjectionError> {
        Self::new(false, pointers)
    }

    fn new(include: bool, pointers: &[String]) -> Result<Self, ProjectionError> {
        let paths = pointers
            .iter()
            .map(|p| parse_pointer(p).ok_or_else(|| ProjectionError::Pointer(p.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Projection { include, paths })
    }

    /// The projected texts of `record`: its raw stream record (images projected) and its
    /// document's image. Fails when an exclude path names one of the record's key attributes.
    pub fn texts(&self, record: &ChangeRecord<'_>) -> Result<ProjectedTexts, ProjectionError> {
        let keys: Vec<&str> = record
            .key
            .attributes
            .0
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        if !self.include {
            if let Some(path) = self
                .paths
                .iter()
                .find(|p| p.len() == 1 && keys.contains(&p[0].as_str()))
            {
                return Err(ProjectionError::KeyExcluded(path[0].clone()));
            }
        }
        let image = match &record.document {
            Some(document) => Some(self.image_text(document.image(), &keys, "the image")?),
            None => None,
        };
        Ok(ProjectedTexts {
            raw: self.raw(record.raw, &keys)?,
            image,
        })
    }

    /// `record` with its images replaced by the projected `texts` (from [`Projection::texts`]).
    pub fn apply<'p, 'a: 'p>(
        &self,
        record: &ChangeRecord<'a>,
        texts: &'p ProjectedTexts,
    ) -> Result<ChangeRecord<'p>, Reason> {
        let document: Option<Document<'p>> = match &texts.image {
            Some(image) => Some(transcode::document(image, "projected image")?),
            None => None,
        };
        let record: ChangeRecord<'p> = record.clone();
        Ok(ChangeRecord {
            document,
            raw: &texts.raw,
            ..record
        })
    }

    /// A raw stream record with `dynamodb.NewImage` and `OldImage` projected; an export line
    /// (no `dynamodb`) with its `Item` or images projected likewise.
    fn raw(&self, raw: &str, keys: &[&str]) -> Result<String, ProjectionError> {
        let mut record: Value =
            serde_json::from_str(raw).map_err(|_| ProjectionError::NotAnImage("the record"))?;
        let holder = match record.get_mut("dynamodb") {
            Some(data) => data,
            None => &mut record,
        };
        for field in ["NewImage", "OldImage", "Item"] {
            if let Some(Value::Object(image)) = holder.get_mut(field) {
                *image = self.image(image, keys);
            }
        }
        Ok(record.to_string())
    }

    fn image_text(
        &self,
        text: &str,
        keys: &[&str],
        what: &'static str,
    ) -> Result<String, ProjectionError> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(image)) => Ok(Value::Object(self.image(&image, keys)).to_string()),
            _ => Err(ProjectionError::NotAnImage(what)),
        }
    }

    /// A typed image (`{"name": {"S": ...}, ...}`) projected.
    fn image(&self, image: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
        let paths: Vec<&[String]> = self.paths.iter().map(Vec::as_slice).collect();
        if self.include {
            let mut kept = include(image, &paths);
            for key in keys {
                if let Some(value) = image.get(*key) {
                    kept.insert((*key).to_owned(), value.clone());
                }
            }
            kept
        } else {
            let mut image = image.clone();
            for path in paths {
                exclude(&mut image, path);
            }
            // List elements were blanked, not removed, so every index named the original
            // element: remove them now.
            for value in image.values_mut() {
                purge_blanked(value);
            }
            image
        }
    }
}

/// `/a/b~1c` → `["a", "b/c"]`; `None` for what is no pointer to an attribute.
fn parse_pointer(pointer: &str) -> Option<Vec<String>> {
    let rest = pointer.strip_prefix('/')?;
    let segments: Vec<String> = rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let escapes_ok = rest.split('/').all(|s| {
        s.match_indices('~')
            .all(|(at, _)| matches!(s.as_bytes().get(at + 1), Some(b'0' | b'1')))
    });
    (escapes_ok && !segments[0].is_empty()).then_some(segments)
}

/// Removes the attribute at `path` from a typed map (`{"name": {"TYPE": value}}`), if there.
fn exclude(map: &mut Map<String, Value>, path: &[String]) {
    match path {
        [] => {}
        [name] => {
            map.remove(name);
        }
        [name, rest @ ..] => {
            if let Some(typed) = map.get_mut(name) {
                exclude_within(typed, rest);
            }
        }
    }
}

/// Descends into a typed value's map (`M`) or list (`L`).
fn exclude_within(typed: &mut Value, path: &[String]) {
    if let Some(Value::Object(members)) = typed.get_mut("M") {
        exclude(members, path);
    } else if let Some(Value::Array(elements)) = typed.get_mut("L") {
        let Some(at) = path[0]
            .parse::<usize>()
            .ok()
            .filter(|at| *at < elements.len())
        else {
            return;
        };
        if path.len() == 1 {
            // A typed value is an object, so `null` marks the element for removal.
            elements[at] = Value::Null;
        } else if let Some(element) = elements.get_mut(at) {
            exclude_within(element, &path[1..]);
        }
    }
}

/// Removes the list elements [`exclude`] blanked, at any depth of a typed value.
fn purge_blanked(typed: &mut Value) {
    if let Some(Value::Object(members)) = typed.get_mut("M") {
        members.values_mut().for_each(purge_blanked);
    } else if let Some(Value::Array(elements)) = typed.get_mut("L") {
        elements.retain(|element| !element.is_null());
        elements.iter_mut().for_each(purge_blanked);
    }
}

/// The attributes of a typed map at `paths` (a path ending inside a value keeps that part).
fn include(map: &Map<String, Value>, paths: &[&[String]]) -> Map<String, Value> {
    let mut kept = Map::new();
    for (name, typed) in map {
        let tails: Vec<&[String]> = paths
            .iter()
            .filter(|p| p.first() == Some(name))
            .map(|p| &p[1..])
            .collect();
        if tails.is_empty() {
            continue;
        }
        if tails.iter().any(|t| t.is_empty()) {
            kept.insert(name.clone(), typed.clone());
        } else if let Some(value) = include_within(typed, &tails) {
            kept.insert(name.clone(), value);
        }
    }
    kept
}

fn include_within(typed: &Value, tails: &[&[String]]) -> Option<Value> {
    if let Some(Value::Object(members)) = typed.get("M") {
        return Some(serde_json::json!({ "M": include(members, tails) }));
    }
    let Some(Value::Array(elements)) = typed.get("L") else {
        return None;
    };
    let kept = elements
        .iter()
        .enumerate()
        .filter_map(|(at, element)| {
            let inner: Vec<&[String]> = tails
                .iter()
                .filter(|t| t[0] == at.to_string())
                .map(|t| &t[1..])
                .collect();
            if inner.is_empty() {
                None
            } else if inner.iter().any(|t| t.is_empty()) {
                Some(element.clone())
            } else {
                include_within(element, &inner)
            }
        })
        .collect();
    Some(serde_json::json!({ "L": Value::Array(kept) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> Map<String, Value> {
        match serde_json::from_str(text).unwrap() {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    const ITEM: &str = r#"{"pk":{"S":"k"},"ssn":{"S":"123"},"a/b":{"N":"1.50"},"address":{"M":{"zip":{"S":"z"},"city":{"S":"c"}}},"tags":{"L":[{"S":"x"},{"S":"y"}]}}"#;

    #[test]
    fn exclude_drops_attributes_members_and_elements() {
        let p = Projection::exclude(&[
            "/ssn".into(),
            "/a~1b".into(),
            "/address/zip".into(),
            "/tags/0".into(),
            "/absent/x".into(),
        ])
        .unwrap();
        assert_eq!(
            Value::Object(p.image(&image(ITEM), &["pk"])),
            serde_json::json!({"pk":{"S":"k"},"address":{"M":{"city":{"S":"c"}}},"tags":{"L":[{"S":"y"}]}})
        );
    }

    #[test]
    fn several_elements_of_one_list_are_the_ones_named() {
        let list = r#"{"pk":{"S":"k"},"phones":{"L":[{"S":"0"},{"S":"1"},{"S":"2"},{"S":"3"}]}}"#;
        let p = Projection::exclude(&["/phones/0".into(), "/phones/1".into()]).unwrap();
        assert_eq!(
            Value::Object(p.image(&image(list), &["pk"])),
            serde_json::json!({"pk":{"S":"k"},"phones":{"L":[{"S":"2"},{"S":"3"}]}})
        );
    }

    #[test]
    fn include_keeps_attributes_members_and_keys() {
        let p = Projection::include(&["/address/city".into(), "/tags/1".into(), "/a~1b".into()])
            .unwrap();
        assert_eq!(
            Value::Object(p.image(&image(ITEM), &["pk"])),
            serde_json::json!({"pk":{"S":"k"},"a/b":{"N":"1.50"},"address":{"M":{"city":{"S":"c"}}},"tags":{"L":[{"S":"y"}]}})
        );
    }

    #[test]
    fn pointers_must_name_an_attribute() {
        for bad in ["", "ssn", "/", "/a~2", "/~"] {
            assert!(Projection::exclude(&[bad.into()]).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_pointer("/a~1b/~0c"),
            Some(vec!["a/b".into(), "~c".into()])
        );
    }
}
