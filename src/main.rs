//! `theater --role <gateway|user|movie|booking|all>`: parse, configure, serve.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use theater::cli::{Cli, CliError};
use theater::config::Settings;
use theater::{startup, telemetry};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// sysexits' EX_USAGE: the command was used wrongly (a bad flag or value).
const EX_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::parse_all(std::env::args_os()) {
        Ok(cli) => cli,
        Err(CliError::Usage(err)) if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(CliError::Usage(err)) => {
            let _ = err.print();
            if let Some(env) = env_var_of(&err) {
                eprintln!("(the value may also come from the environment variable {env})");
            }
            return ExitCode::from(EX_USAGE);
        }
        Err(CliError::Values(errors)) => {
            for err in errors {
                eprintln!("error: {err}");
            }
            return ExitCode::from(EX_USAGE);
        }
    };
    let settings = match Settings::from_cli(cli) {
        Ok(settings) => settings,
        Err(errors) => {
            for err in errors {
                eprintln!("error: {err}");
            }
            return ExitCode::from(EX_USAGE);
        }
    };
    telemetry::init(settings.log_format, &settings.log_level);
    let outcome = actix_web::rt::System::new().block_on(startup::run(settings));
    if let Err(err) = &outcome {
        tracing::error!(%err, "cannot start");
    }
    telemetry::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The env var behind the flag a clap error is about (a missing `--role`), so the
/// message can name both.
fn env_var_of(err: &clap::Error) -> Option<String> {
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else { return None };
    let long = arg.trim_start_matches('-').split([' ', '=', '<']).next()?;
    let command = <Cli as clap::CommandFactory>::command();
    let env = command.get_arguments().find(|a| a.get_long() == Some(long))?.get_env()?;
    Some(env.to_string_lossy().into_owned())
}
