//! `TaskDefinition`: an Amazon ECS task definition family. Spec fields are the
//! RegisterTaskDefinition request's, so `aws ecs register-task-definition` JSON can be pasted.
//! Every spec change registers a new revision; the operator keeps the newest ones.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_with::skip_serializing_none;

pub use super::common::EcsTag as Tag;
use super::common::{Condition, aws_enum, conditions_schema, list_map, list_set};
pub use super::task_volumes::*;

/// How many ACTIVE revisions registered by one object are kept when `revisionHistoryLimit` is unset.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 5;

/// Desired state of an ECS task definition. Field names and nesting follow the
/// RegisterTaskDefinition request; `imageRef`, `revisionHistoryLimit` and
/// `deleteRevisionsOnDeletion` are Kubernetes-side additions that are never sent to AWS.
/// The spec is the whole truth: any change registers a new revision of the family.
// Every printcolumn repeats `type_ = "string"`, which clippy reads as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ecs.operator.dev",
    version = "v1alpha1",
    kind = "TaskDefinition",
    namespaced,
    status = "TaskDefinitionStatus",
    shortname = "td",
    shortname = "taskdef",
    category = "ecs",
    doc = "An Amazon ECS task definition family managed by ecs-operator.",
    selectable = ".spec.family",
    printcolumn(name = "Family", type_ = "string", json_path = ".status.family"),
    printcolumn(name = "Revision", type_ = "integer", json_path = ".status.revision"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Synced",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "ARN",
        type_ = "string",
        priority = 1,
        json_path = ".status.arn"
    )
)]
#[x_kube(validation = Rule::new("!has(self.requiresCompatibilities) || !('FARGATE' in self.requiresCompatibilities) || (has(self.networkMode) && self.networkMode == 'awsvpc')").message("fargate-network-mode: requiresCompatibilities FARGATE requires networkMode awsvpc"))]
#[x_kube(validation = Rule::new("!has(self.requiresCompatibilities) || !('FARGATE' in self.requiresCompatibilities) || (has(self.cpu) && has(self.memory))").message("fargate-task-size: requiresCompatibilities FARGATE requires task-level cpu and memory"))]
#[x_kube(validation = Rule::new("!has(self.requiresCompatibilities) || !('FARGATE' in self.requiresCompatibilities) || self.containerDefinitions.all(c, !has(c.stopTimeout) || c.stopTimeout <= 120)").message("fargate-stop-timeout: with requiresCompatibilities FARGATE, stopTimeout is at most 120 seconds"))]
#[x_kube(validation = Rule::new("!has(self.networkMode) || !(self.networkMode in ['awsvpc', 'host']) || self.containerDefinitions.all(c, !has(c.portMappings) || c.portMappings.all(p, !has(p.hostPort) || (has(p.containerPort) && p.hostPort == p.containerPort)))").message("host-port: with networkMode awsvpc or host, hostPort must be omitted or equal to containerPort"))]
#[x_kube(validation = Rule::new("!has(self.networkMode) || self.networkMode != 'none' || self.containerDefinitions.all(c, !has(c.portMappings) || size(c.portMappings) == 0)").message("none-network-ports: networkMode none does not allow portMappings"))]
#[x_kube(validation = Rule::new("self.containerDefinitions.exists(c, !has(c.essential) || c.essential)").message("essential-container: at least one container must be essential"))]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinitionSpec {
    /// deletionPolicy, adoptionPolicy, managementPolicy and region (see `kubectl explain`).
    #[serde(flatten)]
    pub policies: super::common::Policies,

    /// Task definition family. Defaults to metadata.name.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_-]{1,255}$"))]
    pub family: Option<String>,

    /// IAM role the task's containers assume.
    pub task_role_arn: Option<String>,

    /// IAM role the ECS agent uses to pull images, write logs and read secrets.
    pub execution_role_arn: Option<String>,

    /// Docker networking mode: awsvpc, bridge, host or none. AWS default: bridge on Linux EC2.
    pub network_mode: Option<NetworkMode>,

    /// Containers of the task (1 to 10), unique by name (enforced by the API server as a map list).
    #[schemars(length(min = 1, max = 10))]
    #[schemars(transform = list_map(&["name"]))]
    pub container_definitions: Vec<ContainerDefinition>,

    /// Data volumes the containers can mount.
    #[schemars(length(max = 64))]
    #[schemars(transform = list_map(&["name"]))]
    pub volumes: Option<Vec<Volume>>,

    /// Placement constraints for tasks (not supported on Fargate).
    #[schemars(length(max = 10))]
    pub placement_constraints: Option<Vec<TaskDefinitionPlacementConstraint>>,

    /// Launch types the task definition is validated against: EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES.
    #[schemars(length(max = 4))]
    #[schemars(transform = list_set)]
    pub requires_compatibilities: Option<Vec<Compatibility>>,

    /// Task CPU as CPU units ("1024") or vCPUs ("1 vCPU"). Required on Fargate. A number is accepted.
    #[serde(
        default,
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "int_or_string")]
    pub cpu: Option<String>,

    /// Task memory as MiB ("2048") or GB ("2 GB"). Required on Fargate. A number is accepted.
    #[serde(
        default,
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "int_or_string")]
    pub memory: Option<String>,

    /// Tags, spelled `key`/`value` as the ECS API does. Applied to each revision registered.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["key"]))]
    pub tags: Option<Vec<Tag>>,

    /// Process namespace: host or task.
    pub pid_mode: Option<PidMode>,

    /// IPC namespace: host, task or none.
    pub ipc_mode: Option<IpcMode>,

    /// App Mesh proxy configuration.
    pub proxy_configuration: Option<ProxyConfiguration>,

    /// Elastic Inference accelerators (deprecated by AWS; new registrations are rejected).
    #[schemars(transform = list_map(&["deviceName"]))]
    pub inference_accelerators: Option<Vec<InferenceAccelerator>>,

    /// Ephemeral storage for Fargate tasks.
    pub ephemeral_storage: Option<EphemeralStorage>,

    /// Operating system and CPU architecture.
    pub runtime_platform: Option<RuntimePlatform>,

    /// Accept fault injection requests from the task's containers. AWS default false.
    pub enable_fault_injection: Option<bool>,

    /// Operator setting, not sent to AWS: how many ACTIVE revisions registered by this object to
    /// keep (older ones are deregistered). Default 5.
    #[schemars(range(min = 1))]
    pub revision_history_limit: Option<i32>,

    /// Operator setting, not sent to AWS: on deletion of this object, also call
    /// DeleteTaskDefinitions after deregistering its revisions. Default false.
    pub delete_revisions_on_deletion: Option<bool>,
}

impl TaskDefinitionSpec {
    /// revisionHistoryLimit, or its default.
    pub fn revision_history_limit(&self) -> i32 {
        self.revision_history_limit
            .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)
            .max(1)
    }

    /// deleteRevisionsOnDeletion, or its default (false).
    pub fn delete_revisions_on_deletion(&self) -> bool {
        self.delete_revisions_on_deletion.unwrap_or(false)
    }
}

/// One container of the task.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(validation = Rule::new("has(self.image) != has(self.imageRef)").message("image-or-imageRef: set exactly one of image or imageRef"))]
#[x_kube(validation = Rule::new("!has(self.memory) || !has(self.memoryReservation) || self.memoryReservation <= self.memory").message("memory-reservation: memoryReservation must not exceed memory"))]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinition {
    /// Container name, unique within the task.
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^[a-zA-Z0-9_-]{1,255}$"))]
    pub name: String,

    /// Image reference (`repository-url/image:tag` or `@sha256:...`). Exactly one of image / imageRef.
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Operator setting, not sent to AWS: take the image from an EcrRepository in this namespace.
    pub image_ref: Option<ImageRef>,

    /// Credentials for a private registry.
    pub repository_credentials: Option<RepositoryCredentials>,

    /// CPU units reserved for the container (1024 = one vCPU). AWS default 0.
    #[schemars(range(min = 0))]
    pub cpu: Option<i32>,

    /// Hard memory limit in MiB.
    #[schemars(range(min = 4))]
    pub memory: Option<i32>,

    /// Soft memory limit (reservation) in MiB.
    #[schemars(range(min = 4))]
    pub memory_reservation: Option<i32>,

    /// Links to other containers (`name:alias`, bridge mode only).
    #[schemars(transform = list_set)]
    pub links: Option<Vec<String>>,

    /// Ports to publish.
    #[schemars(length(max = 100))]
    pub port_mappings: Option<Vec<PortMapping>>,

    /// When an essential container stops, the task stops. AWS default true.
    pub essential: Option<bool>,

    /// Restart the container in place when it exits.
    pub restart_policy: Option<ContainerRestartPolicy>,

    /// Entry point (Docker ENTRYPOINT).
    pub entry_point: Option<Vec<String>>,

    /// Command (Docker CMD).
    pub command: Option<Vec<String>>,

    /// Environment variables.
    #[schemars(transform = list_map(&["name"]))]
    pub environment: Option<Vec<KeyValuePair>>,

    /// Environment files in S3 (up to 10).
    #[schemars(length(max = 10))]
    pub environment_files: Option<Vec<EnvironmentFile>>,

    /// Volumes mounted into the container.
    pub mount_points: Option<Vec<MountPoint>>,

    /// Volumes mounted from other containers.
    pub volumes_from: Option<Vec<VolumeFrom>>,

    /// Linux-specific settings (capabilities, devices, tmpfs, swap).
    pub linux_parameters: Option<LinuxParameters>,

    /// Secrets from Secrets Manager or SSM Parameter Store, exposed as environment variables.
    #[schemars(transform = list_map(&["name"]))]
    pub secrets: Option<Vec<Secret>>,

    /// Containers that must reach a condition before this one starts.
    #[schemars(transform = list_map(&["containerName"]))]
    pub depends_on: Option<Vec<ContainerDependency>>,

    /// Seconds to wait for dependencies before giving up on starting this container.
    #[schemars(range(min = 0))]
    pub start_timeout: Option<i32>,

    /// Seconds to wait after SIGTERM before SIGKILL (Fargate: at most 120).
    #[schemars(range(min = 0))]
    pub stop_timeout: Option<i32>,

    /// Resolve the image tag to a digest at deployment: enabled or disabled. AWS default enabled.
    pub version_consistency: Option<VersionConsistency>,

    /// Container hostname (not with awsvpc).
    pub hostname: Option<String>,

    /// User (`user`, `uid`, `user:group`, `uid:gid`, ...).
    pub user: Option<String>,

    /// Working directory.
    pub working_directory: Option<String>,

    /// Turn networking off inside the container.
    pub disable_networking: Option<bool>,

    /// Run privileged (not on Fargate).
    pub privileged: Option<bool>,

    /// Mount the root file system read-only.
    pub readonly_root_filesystem: Option<bool>,

    /// DNS servers.
    pub dns_servers: Option<Vec<String>>,

    /// DNS search domains.
    pub dns_search_domains: Option<Vec<String>>,

    /// Extra /etc/hosts entries (not with awsvpc).
    pub extra_hosts: Option<Vec<HostEntry>>,

    /// Docker security options (SELinux, AppArmor, credential specs).
    pub docker_security_options: Option<Vec<String>>,

    /// Keep stdin open.
    pub interactive: Option<bool>,

    /// Allocate a TTY.
    pub pseudo_terminal: Option<bool>,

    /// Docker labels.
    pub docker_labels: Option<BTreeMap<String, String>>,

    /// Resource limits (ulimits).
    #[schemars(transform = list_map(&["name"]))]
    pub ulimits: Option<Vec<Ulimit>>,

    /// Log driver and its options.
    pub log_configuration: Option<LogConfiguration>,

    /// Container health check.
    pub health_check: Option<HealthCheck>,

    /// Namespaced kernel parameters (sysctls).
    pub system_controls: Option<Vec<SystemControl>>,

    /// GPUs, Neuron devices or inference accelerators assigned to the container.
    #[schemars(transform = list_map(&["type"]))]
    pub resource_requirements: Option<Vec<ResourceRequirement>>,

    /// FireLens log router configuration (for the log router container).
    pub firelens_configuration: Option<FirelensConfiguration>,

    /// Credential spec ARN for Active Directory (gMSA) authentication (at most 1).
    #[schemars(length(max = 1))]
    #[schemars(transform = list_set)]
    pub credential_specs: Option<Vec<String>>,
}

/// An image taken from an EcrRepository object; the operator resolves it to `image`.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("has(self.tag) != has(self.digest)").message("imageRef-tag-or-digest: set exactly one of tag or digest"))]
#[serde(rename_all = "camelCase")]
pub struct ImageRef {
    /// The EcrRepository (same namespace) whose repositoryUri is used.
    pub repository_ref: RepositoryReference,
    /// Image tag.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$"))]
    pub tag: Option<String>,
    /// Image digest (`sha256:<64 hex>`).
    #[schemars(regex(pattern = r"^sha256:[a-f0-9]{64}$"))]
    pub digest: Option<String>,
}

/// A reference to an EcrRepository in the same namespace.
pub type RepositoryReference = super::common::LocalReference;

/// Private registry credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryCredentials {
    /// ARN of the Secrets Manager secret holding the credentials.
    #[schemars(length(min = 1))]
    pub credentials_parameter: String,
}

/// A published port.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// Port inside the container.
    #[schemars(range(min = 0, max = 65535))]
    pub container_port: Option<i32>,
    /// Port on the host. awsvpc/host: omit or equal containerPort; bridge: 0 or omitted = dynamic.
    #[schemars(range(min = 0, max = 65535))]
    pub host_port: Option<i32>,
    /// tcp or udp. AWS default tcp.
    pub protocol: Option<TransportProtocol>,
    /// Name used by Service Connect and VPC Lattice.
    #[schemars(regex(pattern = r"^[a-z0-9_][a-z0-9_-]{0,63}$"))]
    pub name: Option<String>,
    /// Application protocol for Service Connect: http, http2 or grpc.
    pub app_protocol: Option<ApplicationProtocol>,
    /// Container port range (`8000-8100`) mapped to a dynamic host port range.
    #[schemars(regex(pattern = r"^[0-9]{1,5}-[0-9]{1,5}$"))]
    pub container_port_range: Option<String>,
}

/// Container restart policy.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRestartPolicy {
    /// Whether the restart policy is on.
    pub enabled: bool,
    /// Exit codes that do not trigger a restart (up to 50).
    #[schemars(length(max = 50))]
    #[schemars(transform = list_set)]
    pub ignored_exit_codes: Option<Vec<i32>>,
    /// Seconds the container must run before a restart is attempted (60-1800, AWS default 300).
    #[schemars(range(min = 60, max = 1800))]
    pub restart_attempt_period: Option<i32>,
}

/// A name/value pair (environment variable, proxy property).
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct KeyValuePair {
    /// Name. Required: lists of pairs are merged by name (server-side apply map key).
    // No serde default: a missing Option is None anyway, and without it the schema requires the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required)]
    pub name: Option<String>,
    /// Value.
    pub value: Option<String>,
}

/// An environment file in S3.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct EnvironmentFile {
    /// ARN of the S3 object (a `.env` file).
    pub value: String,
    /// File type; only s3.
    #[serde(rename = "type")]
    pub type_: EnvironmentFileType,
}

/// A volume mounted into a container.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    /// Name of a task volume.
    pub source_volume: Option<String>,
    /// Path in the container.
    pub container_path: Option<String>,
    /// Mount read-only. Default false.
    pub read_only: Option<bool>,
}

/// Volumes mounted from another container.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeFrom {
    /// Name of the other container.
    pub source_container: Option<String>,
    /// Mount read-only. Default false.
    pub read_only: Option<bool>,
}

/// Linux-specific container settings.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinuxParameters {
    /// Kernel capabilities added to or dropped from Docker's default set.
    pub capabilities: Option<KernelCapabilities>,
    /// Host devices exposed to the container (not on Fargate).
    pub devices: Option<Vec<Device>>,
    /// Run an init process that forwards signals and reaps processes.
    pub init_process_enabled: Option<bool>,
    /// Size of /dev/shm in MiB (not on Fargate).
    #[schemars(range(min = 0))]
    pub shared_memory_size: Option<i32>,
    /// tmpfs mounts.
    #[schemars(transform = list_map(&["containerPath"]))]
    pub tmpfs: Option<Vec<Tmpfs>>,
    /// Swap the container may use, in MiB; 0 disables swap (not on Fargate).
    #[schemars(range(min = 0))]
    pub max_swap: Option<i32>,
    /// Memory swappiness 0-100 (needs maxSwap; not on Fargate).
    #[schemars(range(min = 0, max = 100))]
    pub swappiness: Option<i32>,
}

/// Linux capabilities, e.g. SYS_PTRACE, NET_ADMIN, ALL.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct KernelCapabilities {
    /// Capabilities added.
    #[schemars(transform = list_set)]
    pub add: Option<Vec<String>>,
    /// Capabilities dropped.
    #[schemars(transform = list_set)]
    pub drop: Option<Vec<String>>,
}

/// A host device exposed to the container.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// Path on the host.
    pub host_path: String,
    /// Path in the container. Defaults to hostPath.
    pub container_path: Option<String>,
    /// read, write, mknod. Default all three.
    #[schemars(transform = list_set)]
    pub permissions: Option<Vec<DeviceCgroupPermission>>,
}

/// A tmpfs mount.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tmpfs {
    /// Absolute mount path in the container.
    pub container_path: String,
    /// Maximum size in MiB.
    pub size: i32,
    /// Mount options, e.g. `noexec`, `nosuid`, `mode=1777`.
    pub mount_options: Option<Vec<String>>,
}

/// A secret exposed to a container or a log driver.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// Environment variable (or log option) name.
    pub name: String,
    /// ARN of the Secrets Manager secret or SSM parameter (name if in the same Region).
    pub value_from: String,
}

/// A startup dependency on another container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDependency {
    /// Name of the container depended on.
    pub container_name: String,
    /// START, COMPLETE, SUCCESS or HEALTHY.
    pub condition: ContainerCondition,
}

/// An /etc/hosts entry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostEntry {
    /// Hostname.
    pub hostname: String,
    /// IP address.
    pub ip_address: String,
}

/// A resource limit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ulimit {
    /// Limit name, e.g. nofile.
    pub name: UlimitName,
    /// Soft limit.
    pub soft_limit: i32,
    /// Hard limit.
    pub hard_limit: i32,
}

/// Log driver configuration.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    /// Log driver, e.g. awslogs or awsfirelens.
    pub log_driver: LogDriver,
    /// Driver options, e.g. `awslogs-group`.
    pub options: Option<BTreeMap<String, String>>,
    /// Driver options read from secrets.
    #[schemars(transform = list_map(&["name"]))]
    pub secret_options: Option<Vec<Secret>>,
}

/// Container health check.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// Command, starting with CMD or CMD-SHELL.
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
    /// Seconds between checks (5-300, AWS default 30).
    #[schemars(range(min = 5, max = 300))]
    pub interval: Option<i32>,
    /// Seconds before a check fails (2-60, AWS default 5).
    #[schemars(range(min = 2, max = 60))]
    pub timeout: Option<i32>,
    /// Failures before unhealthy (1-10, AWS default 3).
    #[schemars(range(min = 1, max = 10))]
    pub retries: Option<i32>,
    /// Grace period in seconds before failures count (0-300, default off).
    #[schemars(range(min = 0, max = 300))]
    pub start_period: Option<i32>,
}

/// A namespaced kernel parameter.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SystemControl {
    /// Parameter, e.g. `net.ipv4.tcp_keepalive_time`.
    pub namespace: Option<String>,
    /// Value.
    pub value: Option<String>,
}

/// A GPU, Neuron device or inference accelerator assigned to a container.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(validation = Rule::new("has(self.sharingStrategy) ? (self.type == 'GPU' && !has(self.value)) : has(self.value)").message("resource-requirement-value: set value, or sharingStrategy (GPU only), not both"))]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirement {
    /// Number of GPUs (or ALL), `ALL` for NeuronDevice, or an inference accelerator deviceName.
    pub value: Option<String>,
    /// GPU, InferenceAccelerator or NeuronDevice.
    #[serde(rename = "type")]
    pub type_: ResourceType,
    /// Share a GPU with other containers (GPU only).
    pub sharing_strategy: Option<SharingStrategy>,
}

/// How a container shares a GPU (exactly one member).
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("has(self.nvidiaMps)").message("sharing-strategy: set nvidiaMps"))]
#[serde(rename_all = "camelCase")]
pub struct SharingStrategy {
    /// NVIDIA Multi-Process Service allocation.
    pub nvidia_mps: Option<NvidiaMpsAllocation>,
}

/// An NVIDIA MPS share of one GPU.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NvidiaMpsAllocation {
    /// GPU memory in MiB.
    #[schemars(range(min = 1))]
    pub memory: i32,
    /// Maximum share of the GPU's compute, in percent (AWS default 100).
    #[schemars(range(min = 1, max = 100))]
    pub max_compute_percent: Option<i32>,
}

/// FireLens log router configuration.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct FirelensConfiguration {
    /// fluentd or fluentbit.
    #[serde(rename = "type")]
    pub type_: FirelensConfigurationType,
    /// Options, e.g. `enable-ecs-log-metadata`, `config-file-type`, `config-file-value`.
    pub options: Option<BTreeMap<String, String>>,
}

/// A task placement constraint.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct TaskDefinitionPlacementConstraint {
    /// Constraint type; only memberOf.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<TaskDefinitionPlacementConstraintType>,
    /// Cluster query language expression, e.g. `attribute:ecs.instance-type =~ t3.*`.
    pub expression: Option<String>,
}

/// App Mesh proxy configuration.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProxyConfiguration {
    /// Proxy type; only APPMESH (the default).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<ProxyConfigurationType>,
    /// Name of the proxy container.
    pub container_name: String,
    /// CNI plugin settings: IgnoredUID, IgnoredGID, AppPorts, ProxyIngressPort, ProxyEgressPort, ...
    #[schemars(transform = list_map(&["name"]))]
    pub properties: Option<Vec<KeyValuePair>>,
}

/// An Elastic Inference accelerator (deprecated by AWS).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InferenceAccelerator {
    /// Name referenced by a container's resourceRequirements.
    pub device_name: String,
    /// Accelerator type, e.g. eia2.medium.
    pub device_type: String,
}

/// Fargate ephemeral storage.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct EphemeralStorage {
    /// Size in GiB (21-200).
    #[serde(rename = "sizeInGiB")]
    #[schemars(range(min = 21, max = 200))]
    pub size_in_gib: i32,
}

/// Operating system and CPU architecture.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimePlatform {
    /// X86_64 or ARM64.
    pub cpu_architecture: Option<CpuArchitecture>,
    /// LINUX or a WINDOWS_SERVER_* family.
    pub operating_system_family: Option<OsFamily>,
}

aws_enum!(
    /// Docker networking mode.
    NetworkMode { Awsvpc = "awsvpc", Bridge = "bridge", Host = "host", None = "none" }
);
aws_enum!(
    /// Launch type a task definition is validated against.
    Compatibility {
        Ec2 = "EC2",
        Fargate = "FARGATE",
        External = "EXTERNAL",
        ManagedInstances = "MANAGED_INSTANCES",
    }
);
aws_enum!(
    /// Process namespace mode.
    PidMode { Host = "host", Task = "task" }
);
aws_enum!(
    /// IPC namespace mode.
    IpcMode { Host = "host", Task = "task", None = "none" }
);
aws_enum!(
    /// Port mapping transport protocol.
    TransportProtocol { Tcp = "tcp", Udp = "udp" }
);
aws_enum!(
    /// Service Connect application protocol.
    ApplicationProtocol { Http = "http", Http2 = "http2", Grpc = "grpc" }
);
aws_enum!(
    /// Environment file type.
    EnvironmentFileType { S3 = "s3" }
);
aws_enum!(
    /// Device cgroup permission.
    DeviceCgroupPermission { Read = "read", Write = "write", Mknod = "mknod" }
);
aws_enum!(
    /// Condition a dependency must reach.
    ContainerCondition {
        Start = "START",
        Complete = "COMPLETE",
        Success = "SUCCESS",
        Healthy = "HEALTHY",
    }
);
aws_enum!(
    /// Image tag to digest resolution.
    VersionConsistency { Enabled = "enabled", Disabled = "disabled" }
);
aws_enum!(
    /// ulimit name.
    UlimitName {
        Core = "core",
        Cpu = "cpu",
        Data = "data",
        Fsize = "fsize",
        Locks = "locks",
        Memlock = "memlock",
        Msgqueue = "msgqueue",
        Nice = "nice",
        Nofile = "nofile",
        Nproc = "nproc",
        Rss = "rss",
        Rtprio = "rtprio",
        Rttime = "rttime",
        Sigpending = "sigpending",
        Stack = "stack",
    }
);
aws_enum!(
    /// Log driver.
    LogDriver {
        Awsfirelens = "awsfirelens",
        Awslogs = "awslogs",
        Fluentd = "fluentd",
        Gelf = "gelf",
        Journald = "journald",
        JsonFile = "json-file",
        Splunk = "splunk",
        Syslog = "syslog",
    }
);
aws_enum!(
    /// Resource requirement type.
    ResourceType {
        Gpu = "GPU",
        InferenceAccelerator = "InferenceAccelerator",
        NeuronDevice = "NeuronDevice",
    }
);
aws_enum!(
    /// FireLens log router type.
    FirelensConfigurationType { Fluentd = "fluentd", Fluentbit = "fluentbit" }
);
aws_enum!(
    /// Placement constraint type.
    TaskDefinitionPlacementConstraintType { MemberOf = "memberOf" }
);
aws_enum!(
    /// Proxy type.
    ProxyConfigurationType { Appmesh = "APPMESH" }
);
aws_enum!(
    /// CPU architecture.
    CpuArchitecture { X86_64 = "X86_64", Arm64 = "ARM64" }
);
aws_enum!(
    /// Operating system family.
    OsFamily {
        Linux = "LINUX",
        WindowsServer2025Core = "WINDOWS_SERVER_2025_CORE",
        WindowsServer2025Full = "WINDOWS_SERVER_2025_FULL",
        WindowsServer2022Core = "WINDOWS_SERVER_2022_CORE",
        WindowsServer2022Full = "WINDOWS_SERVER_2022_FULL",
        WindowsServer2019Core = "WINDOWS_SERVER_2019_CORE",
        WindowsServer2019Full = "WINDOWS_SERVER_2019_FULL",
        WindowsServer2016Full = "WINDOWS_SERVER_2016_FULL",
        WindowsServer2004Core = "WINDOWS_SERVER_2004_CORE",
        WindowsServer20H2Core = "WINDOWS_SERVER_20H2_CORE",
    }
);

/// Observed state of a task definition family.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinitionStatus {
    /// The metadata.generation the status was computed for.
    pub observed_generation: Option<i64>,
    /// The `ecs.operator.dev/refresh` annotation value last honoured (one reconcile that read
    /// AWS afresh); a different value asks again.
    pub last_refreshed: Option<String>,
    /// Ready and Synced conditions.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Task definition family.
    pub family: Option<String>,
    /// Revision number of the current revision.
    pub revision: Option<i64>,
    /// taskDefinitionArn of the current revision.
    pub arn: Option<String>,
    /// ARNs of revisions this object registered and has not deregistered, oldest first.
    #[serde(default)]
    pub registered_revisions: Vec<String>,
}

impl TaskDefinition {
    /// The AWS family: spec.family, else metadata.name.
    pub fn family(&self) -> String {
        self.spec
            .family
            .clone()
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }
}

/// Schema for task cpu/memory: AWS takes strings, but `cpu: 512` in YAML is an integer.
fn int_or_string(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-int-or-string": true })
}

/// Accepts a string or an integer (kept as its decimal string).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StringOrNumber {
        String(String),
        Number(i64),
    }
    Ok(Option::<StringOrNumber>::deserialize(d)?.map(|v| match v {
        StringOrNumber::String(s) => s,
        StringOrNumber::Number(n) => n.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::AwsEnum;
    use kube::CustomResourceExt;

    fn crd_json() -> String {
        serde_json::to_string(&TaskDefinition::crd()).expect("CRD serialises")
    }

    #[test]
    fn crd_has_names_columns_and_rules() {
        let crd = TaskDefinition::crd();
        assert_eq!(crd.spec.group, "ecs.operator.dev");
        assert_eq!(crd.spec.names.kind, "TaskDefinition");
        assert_eq!(
            crd.spec.names.short_names,
            Some(vec!["td".to_string(), "taskdef".to_string()])
        );
        assert_eq!(crd.spec.names.categories, Some(vec!["ecs".to_string()]));
        let text = crd_json();
        for needle in [
            "fargate-network-mode:",
            "fargate-task-size:",
            "fargate-stop-timeout:",
            "host-port:",
            "none-network-ports:",
            "x-kubernetes-list-map-keys",
            "essential-container:",
            "image-or-imageRef:",
            "imageRef-tag-or-digest:",
            "memory-reservation:",
            "volume-type:",
            "volume-name:",
            "efs-transit-encryption:",
            "efs-root-directory:",
            "s3files-root-directory:",
            "docker-volume-autoprovision:",
            "resource-requirement-value:",
            "sharing-strategy:",
            "\"x-kubernetes-int-or-string\":true",
            "\"fsxWindowsFileServerVolumeConfiguration\"",
            "\"s3filesVolumeConfiguration\"",
            "\"sizeInGiB\"",
            "\"revisionHistoryLimit\"",
            "\"registeredRevisions\"",
        ] {
            assert!(text.contains(needle), "CRD lacks {needle}");
        }
        let columns: Vec<String> = crd.spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| format!("{}:{}", c.name, c.type_))
            .collect();
        assert_eq!(
            columns,
            [
                "Family:string",
                "Revision:integer",
                "Ready:string",
                "Synced:string",
                "Age:date",
                "ARN:string"
            ]
        );
    }

    #[test]
    fn lists_used_in_rules_are_bounded() {
        let crd = serde_json::to_value(TaskDefinition::crd()).expect("CRD serialises");
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let containers = &spec["properties"]["containerDefinitions"];
        assert_eq!(containers["maxItems"], 10);
        assert_eq!(containers["minItems"], 1);
        assert_eq!(
            containers["items"]["properties"]["portMappings"]["maxItems"],
            100
        );
        assert_eq!(
            spec["required"],
            serde_json::json!(["containerDefinitions"])
        );
        assert_eq!(containers["items"]["required"], serde_json::json!(["name"]));
        assert_eq!(spec["properties"]["requiresCompatibilities"]["maxItems"], 4);
    }

    #[test]
    fn enums_use_aws_strings() {
        assert_eq!(
            serde_json::to_value(LogDriver::JsonFile).expect("serialises"),
            "json-file"
        );
        assert_eq!(
            Compatibility::from_aws("MANAGED_INSTANCES"),
            Some(Compatibility::ManagedInstances)
        );
        assert_eq!(OsFamily::from_aws("WINDOWS_SERVER_9999"), None);
        for v in UlimitName::ALL {
            let json = serde_json::to_value(v).expect("serialises");
            assert_eq!(json, v.as_str());
        }
    }

    #[test]
    fn task_cpu_and_memory_accept_numbers() {
        let spec: TaskDefinitionSpec = serde_json::from_value(serde_json::json!({
            "cpu": 256, "memory": "1 GB",
            "containerDefinitions": [{"name": "app", "image": "nginx"}]
        }))
        .expect("deserialises");
        assert_eq!(spec.cpu.as_deref(), Some("256"));
        assert_eq!(spec.memory.as_deref(), Some("1 GB"));
        let back = serde_json::to_value(&spec).expect("serialises");
        assert_eq!(back["cpu"], "256");
    }

    #[test]
    fn family_defaults_to_name() {
        let mut td = TaskDefinition::new("web", TaskDefinitionSpec::default());
        assert_eq!(td.family(), "web");
        td.spec.family = Some("web-prod".into());
        assert_eq!(td.family(), "web-prod");
        assert_eq!(td.spec.revision_history_limit(), 5);
        assert!(!td.spec.delete_revisions_on_deletion());
    }
}
