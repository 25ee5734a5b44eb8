//! A task definition's data volumes (the RegisterTaskDefinition `volumes` list): host, Docker,
//! EFS, S3 Files and FSx for Windows File Server volumes, with the CEL rules AWS's combinations need.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::aws_enum;

/// A data volume. Set at most one of host, dockerVolumeConfiguration, efsVolumeConfiguration,
/// s3filesVolumeConfiguration, fsxWindowsFileServerVolumeConfiguration.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("(has(self.host) ? 1 : 0) + (has(self.dockerVolumeConfiguration) ? 1 : 0) + (has(self.efsVolumeConfiguration) ? 1 : 0) + (has(self.s3filesVolumeConfiguration) ? 1 : 0) + (has(self.fsxWindowsFileServerVolumeConfiguration) ? 1 : 0) <= 1").message("volume-type: set at most one of host, dockerVolumeConfiguration, efsVolumeConfiguration, s3filesVolumeConfiguration, fsxWindowsFileServerVolumeConfiguration"))]
#[x_kube(validation = Rule::new("has(self.name) || !(has(self.efsVolumeConfiguration) || has(self.s3filesVolumeConfiguration) || (has(self.configuredAtLaunch) && self.configuredAtLaunch))").message("volume-name: name is required for EFS, S3 Files and configuredAtLaunch volumes"))]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Volume name, referenced by mountPoints.sourceVolume. Required: volumes are merged by
    /// name (server-side apply map key), and a volume without one cannot be mounted.
    // No serde default: a missing Option is None anyway, and without it the schema requires the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required)]
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_-]{1,255}$"))]
    pub name: Option<String>,
    /// Bind mount; without sourcePath Docker picks a path that does not outlive the task.
    pub host: Option<HostVolumeProperties>,
    /// Docker volume (not on Fargate).
    pub docker_volume_configuration: Option<DockerVolumeConfiguration>,
    /// Amazon EFS file system.
    pub efs_volume_configuration: Option<EfsVolumeConfiguration>,
    /// Amazon S3 Files file system.
    #[serde(
        rename = "s3filesVolumeConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub s3files_volume_configuration: Option<S3FilesVolumeConfiguration>,
    /// Amazon FSx for Windows File Server file system.
    #[serde(
        rename = "fsxWindowsFileServerVolumeConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub fsx_windows_file_server_volume_configuration:
        Option<FSxWindowsFileServerVolumeConfiguration>,
    /// Configured when a task or service is launched (Amazon EBS). At most one per task definition.
    pub configured_at_launch: Option<bool>,
}

/// Bind mount source.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostVolumeProperties {
    /// Path on the host.
    pub source_path: Option<String>,
}

/// A Docker volume.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!has(self.autoprovision) || !self.autoprovision || (has(self.scope) && self.scope == 'shared')").message("docker-volume-autoprovision: autoprovision requires scope shared"))]
#[serde(rename_all = "camelCase")]
pub struct DockerVolumeConfiguration {
    /// task (removed with the task, AWS default) or shared (persists).
    pub scope: Option<Scope>,
    /// Create the volume if missing (scope shared only).
    pub autoprovision: Option<bool>,
    /// Volume driver, e.g. local.
    pub driver: Option<String>,
    /// Driver options.
    pub driver_opts: Option<BTreeMap<String, String>>,
    /// Volume labels.
    pub labels: Option<BTreeMap<String, String>>,
}

/// An Amazon EFS volume.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!has(self.authorizationConfig) || !((has(self.authorizationConfig.iam) && self.authorizationConfig.iam == 'ENABLED') || has(self.authorizationConfig.accessPointId)) || (has(self.transitEncryption) && self.transitEncryption == 'ENABLED')").message("efs-transit-encryption: IAM authorization and access points require transitEncryption ENABLED"))]
#[x_kube(validation = Rule::new("!has(self.authorizationConfig) || !has(self.authorizationConfig.accessPointId) || !has(self.rootDirectory) || self.rootDirectory == '/'").message("efs-root-directory: with an access point, rootDirectory must be omitted or /"))]
#[serde(rename_all = "camelCase")]
pub struct EfsVolumeConfiguration {
    /// File system ID (`fs-...`).
    pub file_system_id: String,
    /// Directory of the file system to mount. Default /.
    pub root_directory: Option<String>,
    /// Encrypt data in transit: ENABLED or DISABLED (AWS default).
    pub transit_encryption: Option<EfsTransitEncryption>,
    /// Port for encrypted traffic; default chosen by the EFS mount helper.
    #[schemars(range(min = 0, max = 65535))]
    pub transit_encryption_port: Option<i32>,
    /// Access point and IAM authorization.
    pub authorization_config: Option<EfsAuthorizationConfig>,
}

/// EFS authorization.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EfsAuthorizationConfig {
    /// Access point ID (`fsap-...`).
    pub access_point_id: Option<String>,
    /// Use the task role for EFS IAM authorization: ENABLED or DISABLED (AWS default).
    pub iam: Option<EfsAuthorizationConfigIam>,
}

/// An Amazon S3 Files volume.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!has(self.accessPointArn) || !has(self.rootDirectory) || self.rootDirectory == '/'").message("s3files-root-directory: with an access point, rootDirectory must be omitted or /"))]
#[serde(rename_all = "camelCase")]
pub struct S3FilesVolumeConfiguration {
    /// ARN of the S3 Files file system.
    pub file_system_arn: String,
    /// Directory to mount. Default /.
    pub root_directory: Option<String>,
    /// Port for encrypted traffic; default chosen by the mount helper.
    #[schemars(range(min = 0, max = 65535))]
    pub transit_encryption_port: Option<i32>,
    /// ARN of an S3 Files access point.
    pub access_point_arn: Option<String>,
}

/// An Amazon FSx for Windows File Server volume.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FSxWindowsFileServerVolumeConfiguration {
    /// File system ID (`fs-...`).
    pub file_system_id: String,
    /// Directory (share) to mount.
    pub root_directory: String,
    /// Credentials to mount the share.
    pub authorization_config: Option<FSxWindowsFileServerAuthorizationConfig>,
}

/// FSx for Windows File Server credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FSxWindowsFileServerAuthorizationConfig {
    /// ARN of the Secrets Manager secret or SSM parameter holding the credentials.
    pub credentials_parameter: String,
    /// Active Directory domain.
    pub domain: String,
}

aws_enum!(
    /// Docker volume scope.
    Scope { Task = "task", Shared = "shared" }
);
aws_enum!(
    /// EFS transit encryption.
    EfsTransitEncryption { Enabled = "ENABLED", Disabled = "DISABLED" }
);
aws_enum!(
    /// EFS IAM authorization.
    EfsAuthorizationConfigIam { Enabled = "ENABLED", Disabled = "DISABLED" }
);
