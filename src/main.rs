//! `verity`: parse the configuration, start logging, run the command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = verity::config::Cli::parse();
    verity::telemetry::init_logging(cli.log_format);
    match verity::cli::run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
