//! `ecs-operator`: thin CLI over the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ecs_operator::runtime::LogFormat;

#[derive(Parser)]
#[command(
    name = "ecs-operator",
    version,
    about = "Manage Amazon ECS and ECR from Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run all controllers.
    Run(RunArgs),
    /// Print every CustomResourceDefinition as YAML (the content of crds/).
    Crds,
    /// Convert AWS JSON into a manifest.
    #[command(subcommand)]
    Convert(ConvertCommand),
}

#[derive(Subcommand)]
enum ConvertCommand {
    /// `aws ecs describe-task-definition` output or register-task-definition JSON -> TaskDefinition YAML.
    TaskDefinition {
        /// JSON file, or `-` for standard input.
        file: String,
        /// metadata.name of the manifest (default: the family).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// AWS region (otherwise AWS_REGION / the profile).
    #[arg(long, env = "ECS_OPERATOR_REGION")]
    region: Option<String>,
    /// Drift-check interval for healthy objects, in seconds.
    #[arg(long, env = "ECS_OPERATOR_RESYNC_SECONDS", default_value_t = 300)]
    resync_seconds: u64,
    /// Objects reconciled in parallel per kind.
    #[arg(long, env = "ECS_OPERATOR_CONCURRENCY", default_value_t = 4)]
    concurrency: u16,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "ECS_OPERATOR_WATCH_NAMESPACE")]
    watch_namespace: Option<String>,
    /// Log filter, e.g. `info` or `ecs_operator=debug,info`.
    #[arg(long, env = "ECS_OPERATOR_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Log format.
    #[arg(long, env = "ECS_OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Attempts per AWS call by the SDK's own retry (with backoff).
    #[arg(long, env = "ECS_OPERATOR_AWS_MAX_ATTEMPTS", default_value_t = 3)]
    aws_max_attempts: u32,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => print_or_fail(ecs_operator::crds_yaml()),
        Command::Convert(ConvertCommand::TaskDefinition { file, name }) => {
            let text = if file == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
            } else {
                std::fs::read_to_string(&file)
            };
            print_or_fail(
                text.map_err(|e| format!("reading {file}: {e}"))
                    .and_then(|t| ecs_operator::convert_task_definition(&t, name.as_deref())),
            )
        }
        Command::Run(args) => {
            ecs_operator::runtime::init_logging(&args.log_level, args.log_format);
            let config = ecs_operator::RunConfig {
                region: args.region,
                settings: ecs_operator::reconcile::Settings {
                    resync: Duration::from_secs(args.resync_seconds.max(1)),
                    concurrency: args.concurrency.max(1),
                    namespace: args.watch_namespace,
                    ..Default::default()
                },
                aws_max_attempts: args.aws_max_attempts,
            };
            match ecs_operator::run(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Prints a generated document, or the error, with the matching exit code.
fn print_or_fail(result: Result<String, impl std::fmt::Display>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
