//! The command line: options to [`Options`], every mistake named with what is accepted.

use crate::item::ReplicaMode;
use crate::opensearch::{OpenSearchAuth, OpenSearchTarget, TARGET_FORM};
use crate::run::{Options, DEFAULT_EXAMPLES, DEFAULT_MAX_READS_PER_SECOND};

/// The environment variables `--opensearch-auth basic` reads (not options: a password on the
/// command line shows in process lists and shell history).
pub const USERNAME_VARIABLE: &str = "CDC_VERIFY_OPENSEARCH_USERNAME";
/// The environment variable holding the password for `--opensearch-auth basic`.
pub const PASSWORD_VARIABLE: &str = "CDC_VERIFY_OPENSEARCH_PASSWORD";

/// The `--help` text: every option, its default, and the exit statuses.
pub const USAGE: &str = "\
cdc-verify: compare a DynamoDB table with what the CDC sinks wrote from it

Usage:
  cdc-verify --source TABLE [--replica TABLE] [--opensearch URL] [options]

Targets (at least one; both are checked in one pass over the source):
  --replica TABLE               a table written by the dynamodb:// sink
  --replica-mode replica|batch  how the sink wrote it (default replica: items carry
                                _cdc_version and _cdc_sequence, which are ignored, and tombstones with
                                _cdc_deleted = true are not live items; batch: plain copies)
  --opensearch URL              an index written by the opensearch:// sink:
                                http(s)://HOST[:PORT]/INDEX (the sink's
                                opensearch+http(s):// URL is accepted, without ?options)
  --opensearch-auth none|basic  default none; basic reads the user name and password from
                                CDC_VERIFY_OPENSEARCH_USERNAME and CDC_VERIFY_OPENSEARCH_PASSWORD
                                (SigV4 is not supported)

Options:
  --max-reads-per-second N      items read per second, all reads together (Scan pages are
                                paced, Limit = N/4 up to 1000); 1..=1000000, default 500
  --segments N                  parallel Scan segments per table; 1..=64, default 1
  --examples N                  example keys shown per category; 0..=10000, default 10
  --report text|json            default text
  -h, --help                    this text

Reads are strongly consistent (twice the read units of eventually consistent ones).
AWS region, credentials and endpoint come from the environment as for any AWS SDK
(AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL for local emulators, ...).

Output: counts of equal, missing (in the source, not live in the target), extra (live in the
target, not in the source) and different (same key, other attributes) items, then example
keys, and for different items the names of the attributes that differ. Never values.
Memory: each target's keys with a 16-byte fingerprint each (about 110 MB per million items
with 30-byte keys); source items are streamed, never kept.

Exit status: 0 equal, 1 different, 2 error (bad arguments, unreachable table or index).
";

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    /// Lines for people to read (the default).
    #[default]
    Text,
    /// One JSON document, for scripts.
    Json,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run a comparison.
    Verify {
        /// What to compare, and how.
        options: Options,
        /// How to print the report.
        report: ReportFormat,
    },
    /// Print [`USAGE`] (`-h` or `--help`).
    Help,
}

/// A command line mistake: names the option, what was given and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// An argument (given) that is no option.
    #[error("unknown option {0:?}; accepted: --source, --replica, --replica-mode, --opensearch, --opensearch-auth, --max-reads-per-second, --segments, --examples, --report, --help")]
    Unknown(String),
    #[error("{option} needs a value: {accepted}")]
    /// An option given last, without its value.
    MissingValue {
        /// The option.
        option: &'static str,
        /// What its value may be.
        accepted: &'static str,
    },
    #[error("{option} {value:?} is not accepted: {problem}; accepted: {accepted}")]
    /// An option's value that is not accepted.
    Invalid {
        /// The option.
        option: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        problem: String,
        /// What its value may be.
        accepted: &'static str,
    },
    /// An option (named) given twice.
    #[error("{0} is given more than once")]
    Repeated(&'static str),
    /// `--source` is missing.
    #[error("--source TABLE is required")]
    NoSource,
    /// Neither `--replica` nor `--opensearch` is given.
    #[error("nothing to compare the source with: give --replica TABLE and/or --opensearch URL")]
    NoTarget,
    #[error("{option} given without {needs}")]
    /// An option that only qualifies another one, given without it (such as `--replica-mode`
    /// without `--replica`).
    Orphan {
        /// The option given.
        option: &'static str,
        /// The option it needs.
        needs: &'static str,
    },
    /// `--replica` names the `--source` table.
    #[error("--replica names the source table itself")]
    SameTable,
    /// `--opensearch-auth basic` without both credential variables set.
    #[error("--opensearch-auth basic needs the environment variables {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}")]
    NoCredentials,
    /// An argument is not valid UTF-8.
    #[error("an argument is not valid UTF-8")]
    NotUtf8,
}

struct Spec {
    name: &'static str,
    accepted: &'static str,
}

const SPECS: &[Spec] = &[
    Spec {
        name: "--source",
        accepted: "a table name",
    },
    Spec {
        name: "--replica",
        accepted: "a table name",
    },
    Spec {
        name: "--replica-mode",
        accepted: "replica or batch",
    },
    Spec {
        name: "--opensearch",
        accepted: TARGET_FORM,
    },
    Spec {
        name: "--opensearch-auth",
        accepted: "none or basic",
    },
    Spec {
        name: "--max-reads-per-second",
        accepted: "an integer from 1 to 1000000",
    },
    Spec {
        name: "--segments",
        accepted: "an integer from 1 to 64",
    },
    Spec {
        name: "--examples",
        accepted: "an integer from 0 to 10000",
    },
    Spec {
        name: "--report",
        accepted: "text or json",
    },
];

/// Parses the arguments (without the program name); `env` reads environment variables.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, ArgError> {
    let mut given: Vec<(&'static Spec, String)> = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let spec = SPECS
            .iter()
            .find(|s| s.name == name)
            .ok_or(ArgError::Unknown(name))?;
        if given.iter().any(|(s, _)| s.name == spec.name) {
            return Err(ArgError::Repeated(spec.name));
        }
        let missing = || ArgError::MissingValue {
            option: spec.name,
            accepted: spec.accepted,
        };
        let value = match inline {
            Some(value) => value,
            // A value never starts with `--`: `--replica --segments 2` forgot the table.
            None => args
                .next()
                .filter(|v| !v.starts_with("--"))
                .ok_or_else(missing)?,
        };
        if value.is_empty() {
            return Err(missing());
        }
        given.push((spec, value));
    }
    let get = |name: &str| given.iter().find(|(s, _)| s.name == name);
    let invalid = |name: &str, problem: String| {
        let (spec, value) = get(name)
            .map(|(s, v)| (*s, v.clone()))
            .unwrap_or((&SPECS[0], String::new()));
        ArgError::Invalid {
            option: spec.name,
            value,
            problem,
            accepted: spec.accepted,
        }
    };
    let number =
        |name: &str, range: std::ops::RangeInclusive<u64>, default: u64| -> Result<u64, ArgError> {
            let Some((_, value)) = get(name) else {
                return Ok(default);
            };
            let n: u64 = value
                .parse()
                .map_err(|_| invalid(name, "not an integer".into()))?;
            if !range.contains(&n) {
                return Err(invalid(name, "out of range".into()));
            }
            Ok(n)
        };

    let source = get("--source")
        .map(|(_, v)| v.clone())
        .ok_or(ArgError::NoSource)?;
    let mut options = Options::new(source);
    let mode = match get("--replica-mode").map(|(_, v)| v.as_str()) {
        None | Some("replica") => ReplicaMode::Replica,
        Some("batch") => ReplicaMode::Batch,
        Some(_) => return Err(invalid("--replica-mode", "unknown mode".into())),
    };
    match get("--replica") {
        Some((_, table)) if *table == options.source => return Err(ArgError::SameTable),
        Some((_, table)) => options = options.replica(table.clone(), mode),
        None if get("--replica-mode").is_some() => {
            return Err(ArgError::Orphan {
                option: "--replica-mode",
                needs: "--replica",
            })
        }
        None => {}
    }
    let auth = match get("--opensearch-auth").map(|(_, v)| v.as_str()) {
        None | Some("none") => OpenSearchAuth::None,
        Some("basic") => match (env(USERNAME_VARIABLE), env(PASSWORD_VARIABLE)) {
            (Some(username), Some(password)) if !username.is_empty() => {
                OpenSearchAuth::Basic { username, password }
            }
            _ => return Err(ArgError::NoCredentials),
        },
        Some(_) => {
            return Err(invalid(
                "--opensearch-auth",
                "unknown authentication".into(),
            ))
        }
    };
    match get("--opensearch") {
        Some((_, url)) => {
            let target =
                OpenSearchTarget::parse(url, auth).map_err(|p| invalid("--opensearch", p))?;
            options = options.opensearch(target);
        }
        None if get("--opensearch-auth").is_some() => {
            return Err(ArgError::Orphan {
                option: "--opensearch-auth",
                needs: "--opensearch",
            })
        }
        None => {}
    }
    if options.replica.is_none() && options.opensearch.is_none() {
        return Err(ArgError::NoTarget);
    }
    // The ranges bound each value to its type, so the conversions cannot fail.
    options.max_reads_per_second = number(
        "--max-reads-per-second",
        1..=1_000_000,
        DEFAULT_MAX_READS_PER_SECOND.into(),
    )? as u32;
    options.segments = number("--segments", 1..=64, 1)? as u32;
    options.examples = number("--examples", 0..=10_000, DEFAULT_EXAMPLES as u64)? as usize;
    let report = match get("--report").map(|(_, v)| v.as_str()) {
        None | Some("text") => ReportFormat::Text,
        Some("json") => ReportFormat::Json,
        Some(_) => return Err(invalid("--report", "unknown format".into())),
    };
    Ok(Command::Verify { options, report })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn run(line: &str) -> Result<Command, ArgError> {
        parse(args(line), |_| None)
    }

    #[test]
    fn parses_every_option() {
        let Command::Verify { options, report } = run(
            "--source orders --replica orders-copy --replica-mode=batch \
             --opensearch opensearch+http://127.0.0.1:9200/orders --max-reads-per-second 100 \
             --segments=4 --examples 0 --report json",
        )
        .unwrap() else {
            panic!("not a verify command")
        };
        assert_eq!(options.source, "orders");
        let replica = options.replica.unwrap();
        assert_eq!(
            (replica.table.as_str(), replica.mode),
            ("orders-copy", ReplicaMode::Batch)
        );
        assert_eq!(
            options.opensearch.unwrap().display(),
            "http://127.0.0.1:9200/orders"
        );
        assert_eq!(
            (
                options.max_reads_per_second,
                options.segments,
                options.examples
            ),
            (100, 4, 0)
        );
        assert_eq!(report, ReportFormat::Json);
    }

    #[test]
    fn defaults() {
        let Command::Verify { options, report } = run("--source a --replica b").unwrap() else {
            panic!()
        };
        assert_eq!(options.replica.unwrap().mode, ReplicaMode::Replica);
        assert_eq!(options.max_reads_per_second, 500);
        assert_eq!((options.segments, options.examples), (1, 10));
        assert_eq!(report, ReportFormat::Text);
        assert_eq!(run("--source a --help").unwrap(), Command::Help);
    }

    #[test]
    fn names_the_mistake_and_what_is_accepted() {
        let cases = [
            ("--source a --replica b --segments 0", "--segments \"0\" is not accepted: out of range; accepted: an integer from 1 to 64"),
            ("--source a --replica b --max-reads-per-second fast", "--max-reads-per-second \"fast\" is not accepted: not an integer; accepted: an integer from 1 to 1000000"),
            ("--source a --replica b --report xml", "--report \"xml\" is not accepted: unknown format; accepted: text or json"),
            ("--source a --replica b --replica-mode history", "--replica-mode \"history\" is not accepted: unknown mode; accepted: replica or batch"),
            ("--source a --replica", "--replica needs a value: a table name"),
            ("--source a --replica --segments 2", "--replica needs a value: a table name"),
            ("--source a --replica=", "--replica needs a value: a table name"),
            ("--source a --tables b", "unknown option \"--tables\"; accepted: --source"),
            ("--source a --source b", "--source is given more than once"),
            ("--replica b", "--source TABLE is required"),
            ("--source a", "nothing to compare the source with"),
            ("--source a --replica a", "--replica names the source table itself"),
            ("--source a --replica-mode batch --opensearch http://h/i", "--replica-mode given without --replica"),
            ("--source a --opensearch http://h/i --opensearch-auth basic", "--opensearch-auth basic needs the environment variables CDC_VERIFY_OPENSEARCH_USERNAME"),
            ("--source a --opensearch http://h/i?auth=basic", "--opensearch \"http://h/i?auth=basic\" is not accepted: no ?options"),
        ];
        for (line, message) in cases {
            let err = run(line).unwrap_err().to_string();
            assert!(err.starts_with(message), "{line}: {err}");
        }
    }

    #[test]
    fn basic_auth_from_the_environment() {
        let env = |name: &str| match name {
            USERNAME_VARIABLE => Some("reader".to_owned()),
            PASSWORD_VARIABLE => Some("secret".to_owned()),
            _ => None,
        };
        let Command::Verify { options, .. } = parse(
            args("--source a --opensearch https://h:9200/i --opensearch-auth basic"),
            env,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            options.opensearch.unwrap().auth,
            OpenSearchAuth::Basic {
                username: "reader".into(),
                password: "secret".into()
            }
        );
    }
}
