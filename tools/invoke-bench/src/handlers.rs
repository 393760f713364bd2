//! The functions the harness serves, and how each is started as Lambda would start it.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

/// The key schema of the benchmark's table (`cdc_testkit::shapes`), in `CDC_KEY_SCHEMA`'s form.
const KEY_SCHEMA: &str = "orders:pk:sk";

/// What a handler does with a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Maps the batch and writes change records to its output file (synced): compared.
    Maps,
    /// Parses the payload and answers (the hello-world baseline).
    Baseline,
    /// Only its cold init is measured (the export functions: no stream events).
    InitOnly,
}

/// A function under test.
#[derive(Clone, Debug)]
pub struct Handler {
    /// Its name in reports.
    pub name: String,
    /// What it does with a batch.
    pub role: Role,
    program: PathBuf,
    args: Vec<String>,
    dir: Option<PathBuf>,
    variables: Vec<(String, String)>,
}

impl Handler {
    /// One of our release binaries, with the variables of its template function.
    pub fn ours(name: &str, binary: &Path, role: Role, logical_id: &str) -> Handler {
        let mut variables = cdc_testkit::sam_local::variables(logical_id);
        // The benchmark writes files, never stdout: stdout is the function's log stream.
        variables.retain(|(name, _)| name != "CDC_SINKS" && name != "CDC_DLQ");
        Handler {
            name: name.to_owned(),
            role,
            program: binary.to_owned(),
            args: vec![],
            dir: None,
            variables,
        }
    }

    /// The hello-world `lambda_runtime` binary.
    pub fn hello(binary: &Path) -> Handler {
        Handler {
            name: "hello-world (lambda_runtime, serde_json::Value)".to_owned(),
            role: Role::Baseline,
            program: binary.to_owned(),
            args: vec![],
            dir: None,
            variables: vec![],
        }
    }

    /// The Python reference: awslambdaric and boto3's TypeDeserializer.
    pub fn python(python: &Path, reference: &Path) -> Handler {
        Handler {
            name: "Python (awslambdaric + boto3 TypeDeserializer)".to_owned(),
            role: Role::Maps,
            program: python.to_owned(),
            args: vec!["-m".into(), "awslambdaric".into(), "handler.handler".into()],
            dir: Some(reference.join("python")),
            variables: vec![],
        }
    }

    /// The Node reference: a plain Runtime API loop and util-dynamodb's unmarshall (run from
    /// where install.sh put it beside its node_modules).
    pub fn node(runtime: &Path) -> Handler {
        Handler {
            name: "Node (util-dynamodb unmarshall)".to_owned(),
            role: Role::Maps,
            program: "node".into(),
            args: vec![runtime.display().to_string()],
            dir: None,
            variables: vec![],
        }
    }

    /// The same handler, only started (its cold init measured).
    pub fn init_only(&self) -> Handler {
        Handler {
            role: Role::InitOnly,
            ..self.clone()
        }
    }

    /// The process, as Lambda starts it: only Lambda's variables and the function's own,
    /// stdout and stderr to `log` (Lambda reads both from pipes into CloudWatch).
    pub fn command(&self, api: &str, output: &Path, log: &Path) -> std::io::Result<Command> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api)
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_DEFAULT_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_SESSION_TOKEN", "bench")
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
            .env("AWS_LAMBDA_LOG_FORMAT", "Text")
            .env("CDC_KEY_SCHEMA", KEY_SCHEMA)
            .env("CDC_SINKS", format!("file://{}", output.display()))
            .env("CDC_DLQ", format!("file://{}.dlq", output.display()))
            .env("BENCH_OUTPUT", output)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log)?)
            .stderr(std::fs::File::create(log.with_extension("err"))?)
            .kill_on_drop(true);
        for (name, value) in &self.variables {
            command.env(name, value);
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        Ok(command)
    }
}
