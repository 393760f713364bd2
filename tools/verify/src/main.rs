//! `cdc-verify`: see `cdc-verify --help` (the text is [`cdc_verify::cli::USAGE`]).

use std::process::ExitCode;

use cdc_verify::cli::{self, ArgError, Command, ReportFormat};

const EQUAL: u8 = 0;
const DIFFERENT: u8 = 1;
const ERROR: u8 = 2;

fn main() -> ExitCode {
    let args: Result<Vec<String>, ArgError> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string().map_err(|_| ArgError::NotUtf8))
        .collect();
    let command = args.and_then(|args| cli::parse(args, |name| std::env::var(name).ok()));
    let (options, format) = match command {
        Ok(Command::Verify { options, report }) => (options, report),
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::from(EQUAL);
        }
        Err(e) => {
            eprintln!("cdc-verify: {e}\n(cdc-verify --help shows the usage)");
            return ExitCode::from(ERROR);
        }
    };
    // One thread: the work is waiting on paced reads, and the comparison is one pass.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cdc-verify: cannot start the async runtime: {e}");
            return ExitCode::from(ERROR);
        }
    };
    let outcome = runtime.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        cdc_verify::verify(&client, &options).await
    });
    match outcome {
        Ok(report) => {
            match format {
                ReportFormat::Text => print!("{}", report.to_text()),
                ReportFormat::Json => println!("{}", report.to_json()),
            }
            ExitCode::from(if report.equal { EQUAL } else { DIFFERENT })
        }
        Err(e) => {
            eprintln!("cdc-verify: {e}");
            ExitCode::from(ERROR)
        }
    }
}
