//! The command line.

use std::path::PathBuf;

use cdc_testkit::shapes::Shape;

use crate::handlers::{Handler, Role};

/// How to call the harness.
pub const USAGE: &str = "usage: invoke-bench --stream-handler BIN --hello BIN
    [--export-processor BIN] [--export-trigger BIN]   cold init of the export functions
    [--references DIR]   the reference handlers, as reference/install.sh DIR installed them
    [--shapes order,free-text,...|all] [--batches 1000,max] [--runs 10] [--warmup 2]
    [--init-starts 5] [--out DIR]";

/// Parsed arguments.
pub struct Args {
    stream_handler: PathBuf,
    hello: PathBuf,
    export_processor: Option<PathBuf>,
    export_trigger: Option<PathBuf>,
    /// Where reference/install.sh installed the reference handlers.
    references: Option<PathBuf>,
    /// Payload shapes.
    pub shapes: Vec<Shape>,
    /// Batch sizes: record counts or `max`.
    pub batches: Vec<String>,
    /// Measured invocations per process.
    pub runs: usize,
    /// Invocations before those.
    pub warmup: usize,
    /// Cold starts per handler.
    pub init_starts: usize,
    /// Outputs and logs.
    pub out: PathBuf,
}

impl Args {
    /// From `std::env::args().skip(1)`.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args {
            stream_handler: PathBuf::new(),
            hello: PathBuf::new(),
            export_processor: None,
            export_trigger: None,
            references: None,
            shapes: Shape::ALL.to_vec(),
            batches: vec!["1000".into(), "max".into()],
            runs: 10,
            warmup: 2,
            init_starts: 5,
            out: std::env::temp_dir().join("invoke-bench"),
        };
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<usize>()
                    .map_err(|_| format!("{flag}: not a count: {value}"))
            };
            match flag.as_str() {
                "--stream-handler" => parsed.stream_handler = value.clone().into(),
                "--hello" => parsed.hello = value.clone().into(),
                "--export-processor" => parsed.export_processor = Some(value.clone().into()),
                "--export-trigger" => parsed.export_trigger = Some(value.clone().into()),
                "--references" => parsed.references = Some(value.clone().into()),
                "--shapes" => parsed.shapes = shapes(&value)?,
                "--batches" => parsed.batches = value.split(',').map(str::to_owned).collect(),
                "--runs" => parsed.runs = number()?.max(1),
                "--warmup" => parsed.warmup = number()?,
                "--init-starts" => parsed.init_starts = number()?,
                "--out" => parsed.out = value.clone().into(),
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        if parsed.stream_handler.as_os_str().is_empty() || parsed.hello.as_os_str().is_empty() {
            return Err("--stream-handler and --hello are required".into());
        }
        Ok(parsed)
    }

    /// The handlers every batch is served to: ours first (the others are compared with it).
    pub fn handlers(&self) -> Vec<Handler> {
        let mut handlers = vec![
            Handler::ours(
                "**stream-handler**",
                &self.stream_handler,
                Role::Maps,
                "StreamHandler",
            ),
            Handler::hello(&self.hello),
        ];
        if let Some(installed) = &self.references {
            handlers.push(Handler::python(&python(installed), &sources()));
            handlers.push(Handler::node(&installed.join("node/runtime.mjs")));
        }
        handlers
    }

    /// `compare.py` and the Python to run it, with the references.
    pub fn compare(&self) -> Option<(PathBuf, PathBuf)> {
        let installed = self.references.as_ref()?;
        Some((python(installed), sources().join("compare.py")))
    }

    /// The handlers whose cold init is measured: every one, and the export functions.
    pub fn init_handlers(&self) -> Vec<Handler> {
        let mut handlers = self.handlers();
        let exports = [
            (
                &self.export_processor,
                "export-processor",
                "ExportProcessor",
            ),
            (&self.export_trigger, "export-trigger", "ExportTrigger"),
        ];
        for (binary, name, logical_id) in exports {
            if let Some(binary) = binary {
                handlers.push(Handler::ours(name, binary, Role::InitOnly, logical_id));
            }
        }
        handlers
    }
}

fn shapes(list: &str) -> Result<Vec<Shape>, String> {
    if list == "all" {
        return Ok(Shape::ALL.to_vec());
    }
    list.split(',')
        .map(|name| {
            Shape::named(name).ok_or_else(|| {
                let known: Vec<_> = Shape::ALL.iter().map(|s| s.name()).collect();
                format!("unknown shape {name} (known: {})", known.join(", "))
            })
        })
        .collect()
}

/// The reference handlers' sources.
fn sources() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reference")
}

fn python(installed: &std::path::Path) -> PathBuf {
    installed.join("python-venv/bin/python")
}
