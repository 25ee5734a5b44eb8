//! `ecs-operator`: thin CLI over the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ecs_operator::runtime::LogFormat;

/// `--version`: the crate version and the build profile, so an image can be checked to carry the
/// release build (e2e/tests/node/image.rs).
const VERSION: &str = if cfg!(debug_assertions) {
    concat!(env!("CARGO_PKG_VERSION"), " (debug build)")
} else {
    concat!(env!("CARGO_PKG_VERSION"), " (release build)")
};

#[derive(Parser)]
#[command(
    name = "ecs-operator",
    version = VERSION,
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
    /// Print manifests that adopt existing clusters, services, task definitions and ECR
    /// repositories (adoptionPolicy: Adopt), with references wired. Reads AWS only.
    Export(ExportArgs),
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
struct ExportArgs {
    /// AWS region (otherwise AWS_REGION / the profile).
    #[arg(long, env = "ECS_OPERATOR_REGION")]
    region: Option<String>,
    /// Export this cluster (name or ARN) and its services; repeat for several. Default: all.
    #[arg(long = "cluster", value_name = "NAME")]
    clusters: Vec<String>,
    /// Also export the latest ACTIVE revision of every task definition family, not only the
    /// families the services use.
    #[arg(long)]
    all_task_definition_families: bool,
    /// Export ECR repositories.
    #[arg(long, value_name = "true|false", default_value_t = true, action = clap::ArgAction::Set)]
    repositories: bool,
    /// Only repositories whose name starts with this.
    #[arg(long, value_name = "PREFIX")]
    repository_prefix: Option<String>,
    /// metadata.namespace to write (default: none, so `kubectl apply -n` decides).
    #[arg(long)]
    namespace: Option<String>,
    /// spec.deletionPolicy to write on every object (default: none, the namespace's or the
    /// operator's default applies).
    #[arg(long, value_parser = ["Delete", "Retain"])]
    deletion_policy: Option<String>,
    /// Attempts per AWS call by the SDK's own retry (with backoff).
    #[arg(long, env = "ECS_OPERATOR_AWS_MAX_ATTEMPTS", default_value_t = 3)]
    aws_max_attempts: u32,
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
    /// Pace ECS and ECR calls by AWS's token buckets (per account, Region and API category), so
    /// converging is not throttled.
    #[arg(long, env = "ECS_OPERATOR_AWS_PACING", value_name = "true|false", default_value_t = true,
          action = clap::ArgAction::Set)]
    aws_pacing: bool,
    /// Bucket sizes that differ from AWS's published ones (raised quotas), e.g.
    /// `ecs:task-definition-modify=40/2` (burst 40, 2 per second); repeat, or separate with
    /// commas. Categories: ecs:<category> as in AWS's ECS throttling table, ecr:<Action>.
    #[arg(
        long,
        env = "ECS_OPERATOR_AWS_RATE_LIMITS",
        value_name = "CATEGORY=BURST/REFILL",
        value_delimiter = ','
    )]
    aws_rate_limits: Vec<ecs_operator::RateLimit>,
    /// Address of the /metrics, /healthz and /readyz server (port 0: any free port).
    #[arg(
        long,
        env = "ECS_OPERATOR_METRICS_BIND_ADDRESS",
        default_value = "0.0.0.0:8080"
    )]
    metrics_bind_address: String,
    /// Run the controllers only while holding a Lease, so several replicas never both write.
    #[arg(long, env = "ECS_OPERATOR_LEADER_ELECTION", default_value_t = false)]
    leader_election: bool,
    /// Namespace of the leader Lease (default: POD_NAMESPACE, else `default`).
    #[arg(long, env = "ECS_OPERATOR_LEADER_ELECTION_NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// Name of the leader Lease.
    #[arg(
        long,
        env = "ECS_OPERATOR_LEADER_ELECTION_LEASE_NAME",
        default_value = "ecs-operator-leader"
    )]
    leader_election_lease_name: String,
    /// Seconds the Lease stays valid without renewal: a standby takes over about this long
    /// after the leader dies.
    #[arg(
        long,
        env = "ECS_OPERATOR_LEADER_ELECTION_LEASE_SECONDS",
        default_value_t = 15,
        value_parser = clap::value_parser!(u64).range(2..)
    )]
    leader_election_lease_seconds: u64,
    /// Reconcile only the objects labelled `ecs.operator.dev/shard=NAME` (the watches ask the
    /// API server for them), electing a leader on the Lease `<lease name>-NAME`.
    #[arg(long, env = "ECS_OPERATOR_SHARD", value_name = "NAME")]
    shard: Option<ecs_operator::ShardName>,
    /// Reconcile only the objects without the `ecs.operator.dev/shard` label: the main
    /// instance beside shards, so no object is reconciled twice.
    #[arg(long, env = "ECS_OPERATOR_EXCLUDE_SHARDED", default_value_t = false)]
    exclude_sharded: bool,
    /// Deletion policy for objects whose spec and namespace set none.
    #[arg(long, env = "ECS_OPERATOR_DEFAULT_DELETION_POLICY", default_value = "Delete",
          value_parser = ["Delete", "Retain"])]
    default_deletion_policy: String,
    /// Names this operator instance in the ownership tags of every AWS resource it manages, so
    /// operators in different clusters sharing an account never take each other's resources.
    #[arg(long, env = "ECS_OPERATOR_INSTANCE_ID", default_value = "default")]
    instance_id: String,
    /// Namespaces matching NAMESPACE_GLOB may name (ecs.operator.dev/role-arn) roles matching
    /// ROLE_ARN_GLOB; repeat, or separate rules with commas (also in the environment). A
    /// role no rule allows is never assumed (Synced=False, RoleNotAllowed). None: any role.
    #[arg(
        long = "role-allow",
        env = "ECS_OPERATOR_ROLE_ALLOW",
        value_name = "NAMESPACE_GLOB=ROLE_ARN_GLOB",
        value_delimiter = ','
    )]
    role_allow: Vec<ecs_operator::RoleRule>,
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
        Command::Export(args) => {
            let opts = ecs_operator::export::ExportOptions {
                region: args.region,
                clusters: args.clusters,
                all_task_definition_families: args.all_task_definition_families,
                repositories: args.repositories,
                repository_prefix: args.repository_prefix,
                namespace: args.namespace,
                deletion_policy: args.deletion_policy,
                aws_max_attempts: args.aws_max_attempts,
            };
            let result = ecs_operator::export::export(&opts).await.map(|export| {
                for warning in &export.warnings {
                    eprintln!("warning: {warning}");
                }
                export.yaml
            });
            print_or_fail(result)
        }
        Command::Run(args) => {
            ecs_operator::runtime::init_logging(&args.log_level, args.log_format);
            let scope = match ecs_operator::Scope::from_flags(args.shard, args.exclude_sharded) {
                Ok(scope) => scope,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let config = ecs_operator::RunConfig {
                scope,
                region: args.region,
                settings: ecs_operator::Settings {
                    resync: Duration::from_secs(args.resync_seconds.max(1)),
                    concurrency: args.concurrency.max(1),
                    namespace: args.watch_namespace,
                    ..Default::default()
                },
                aws_max_attempts: args.aws_max_attempts,
                aws_pacing: ecs_operator::PacingConfig {
                    enabled: args.aws_pacing,
                    overrides: args.aws_rate_limits,
                },
                instance_id: args.instance_id,
                default_deletion_policy: args
                    .default_deletion_policy
                    .parse()
                    .unwrap_or(ecs_operator::api::common::DeletionPolicy::Delete),
                role_allow: args.role_allow,
                runtime: ecs_operator::runtime::RuntimeConfig {
                    metrics_bind_address: args.metrics_bind_address,
                    leader_election: args.leader_election.then(|| {
                        ecs_operator::runtime::leader::LeaderElectionConfig {
                            namespace: args
                                .leader_election_namespace
                                .unwrap_or_else(ecs_operator::runtime::leader::default_namespace),
                            lease_name: args.leader_election_lease_name,
                            lease_seconds: args.leader_election_lease_seconds,
                            identity: ecs_operator::runtime::leader::default_identity(),
                        }
                    }),
                },
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
            use std::io::Write;
            // `print!` panics when the reader goes away (`ecs-operator crds | head`); a closed
            // pipe is the reader's choice, not an error.
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: writing to standard output: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
