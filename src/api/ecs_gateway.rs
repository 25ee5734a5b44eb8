//! `EcsGateway`: an Amazon ECS gateway — one host-based, shared HTTPS ingress (Application Load
//! Balancers that ECS manages) for the services of the clusters it is associated with. Spec
//! fields are the CreateGateway request's; `clusters` / `clusterRefs` are the clusters it is
//! associated with (AssociateGatewayWithCluster / DisassociateGatewayFromCluster).

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{Condition, aws_enum, conditions_schema, list_map, list_set};
pub use super::ecs_service::ClusterReference;
pub use super::task_definition::Tag;

/// An EcsGateway in the same namespace (an EcsService's `gatewayRef`).
pub type GatewayReference = super::common::LocalReference;

/// Desired state of an ECS gateway. Field names and nesting follow the ECS CreateGateway
/// request; fields left unset take ECS's defaults and are not compared.
// Every printcolumn repeats `type_`, which clippy reads as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ecs.operator.dev",
    version = "v1alpha1",
    kind = "EcsGateway",
    namespaced,
    status = "EcsGatewayStatus",
    shortname = "ecsgw",
    category = "ecs",
    doc = "An Amazon ECS gateway (a shared HTTPS ingress for the services of its clusters) managed by ecs-operator.",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(name = "Access", type_ = "string", json_path = ".status.accessType"),
    printcolumn(name = "Clusters", type_ = "integer", json_path = ".status.clusterCount"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "ARN", type_ = "string", priority = 1, json_path = ".status.arn"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    validation = Rule::new("!has(oldSelf.spec) || (has(self.spec.name) ? self.spec.name : self.metadata.name) == (has(oldSelf.spec.name) ? oldSelf.spec.name : oldSelf.metadata.name)").message("gateway-name-immutable: spec.name (default metadata.name) is immutable: ECS cannot rename a gateway; create a new EcsGateway instead"),
)]
#[x_kube(validation = Rule::new("(has(self.configuration) && has(self.configuration.hostSharedAlb)) == (has(oldSelf.configuration) && has(oldSelf.configuration.hostSharedAlb))").message("gateway-type-immutable: configuration.hostSharedAlb cannot be added or removed: the configuration variant is the gateway's type"))]
#[serde(rename_all = "camelCase")]
pub struct EcsGatewaySpec {
    /// deletionPolicy, adoptionPolicy, managementPolicy and region (see `kubectl explain`).
    #[serde(flatten)]
    pub policies: super::common::Policies,

    /// Name of the gateway, unique in the account and region. Defaults to metadata.name.
    /// Immutable.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$"))]
    pub name: Option<String>,

    /// Role the gateway assumes to create and manage its load balancers.
    #[schemars(length(min = 1, max = 2048))]
    pub infrastructure_role_arn: String,

    /// Whether the gateway (and its load balancers) can be deleted. ECS default `true`: while it
    /// is on, deleting the EcsGateway with deletionPolicy Delete is refused (`DeleteBlocked`)
    /// and the gateway stays; set it to `false` first.
    pub deletion_protection: Option<bool>,

    /// The type-specific configuration: exactly one variant, `hostSharedAlb`.
    pub configuration: Option<GatewayConfiguration>,

    /// Whether the gateway's tags go to the infrastructure it manages: GATEWAY (ECS default) or
    /// NONE.
    pub propagate_tags: Option<PropagateGatewayTags>,

    /// Kubernetes-side: EcsCluster objects in this namespace the gateway is associated with.
    /// With `clusters`, the complete list: clusters associated in AWS but named in neither are
    /// disassociated. Neither set: associations are not managed.
    #[schemars(length(max = 100))]
    #[schemars(transform = list_map(&["name"]))]
    pub cluster_refs: Option<Vec<ClusterReference>>,

    /// Cluster names or ARNs the gateway is associated with (see clusterRefs).
    #[schemars(length(max = 100))]
    #[schemars(transform = list_set)]
    pub clusters: Option<Vec<String>>,

    /// Tags, spelled `key`/`value` as the ECS API does. The list is complete: tags missing here
    /// are removed from the gateway.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["key"]))]
    pub tags: Option<Vec<Tag>>,
}

/// The gateway's type and its settings.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConfiguration {
    /// A host-based, shared Application Load Balancer gateway: each connected service gets its
    /// own DNS host name on a shared HTTPS listener.
    pub host_shared_alb: Option<HostSharedAlbConfiguration>,
}

/// Settings of the load balancers a host-shared ALB gateway manages.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("(has(self.scheme) ? self.scheme : 'internet-facing') == (has(oldSelf.scheme) ? oldSelf.scheme : 'internet-facing')").message("gateway-scheme-immutable: scheme is immutable (UpdateGateway cannot change it); create a new EcsGateway instead"))]
#[serde(rename_all = "camelCase")]
pub struct HostSharedAlbConfiguration {
    /// Subnets, IP address type and inbound security group of the load balancers.
    pub network_configuration: Option<GatewayElbNetworkConfiguration>,
    /// internet-facing (ECS default) or internal. Immutable.
    pub scheme: Option<GatewayElbScheme>,
    /// WAF web ACL associated with the load balancers.
    #[schemars(length(min = 1, max = 2048))]
    pub web_acl_arn: Option<String>,
    /// Access logs of the load balancers.
    pub access_logs: Option<GatewayElbAccessLogConfiguration>,
    /// Listener port: 443, the only one ECS supports. Not compared after create.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Listener protocol: HTTPS, the only one ECS supports. Not compared after create.
    pub protocol: Option<GatewayAlbProtocol>,
    /// Most load balancers the gateway manages. ECS default 10.
    #[schemars(range(min = 1))]
    pub max_alb_count: Option<i32>,
    /// Desync mitigation mode: defensive (ECS default), monitor or strictest.
    pub http_desync: Option<GatewayAlbDesyncMitigationMode>,
    /// Rules that send test traffic to a new service revision during a deployment.
    pub test_traffic_rules: Option<GatewayAlbTestTrafficRules>,
}

/// Network settings of the gateway's load balancers.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("has(self.subnets) == has(oldSelf.subnets) && (!has(self.subnets) || self.subnets == oldSelf.subnets) && (has(self.ipAddressType) ? self.ipAddressType : 'dualstack') == (has(oldSelf.ipAddressType) ? oldSelf.ipAddressType : 'dualstack')").message("gateway-network-immutable: networkConfiguration.subnets and ipAddressType are immutable (UpdateGateway changes only inboundSecurityGroup); create a new EcsGateway instead"))]
#[serde(rename_all = "camelCase")]
pub struct GatewayElbNetworkConfiguration {
    /// A security group of your own for inbound traffic (the gateway then adds no inbound rules
    /// to the one it manages).
    #[schemars(length(min = 1))]
    pub inbound_security_group: Option<String>,
    /// Subnets of the load balancers. ECS default: the default VPC's. Immutable.
    #[schemars(transform = list_set)]
    pub subnets: Option<Vec<String>>,
    /// dualstack (ECS default), dualstack-without-public-ipv4 or ipv4. Immutable.
    pub ip_address_type: Option<GatewayElbIpAddressType>,
}

/// Where the load balancers' access logs go.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayElbAccessLogConfiguration {
    /// The destination (exactly one variant: `s3`).
    pub destination: GatewayElbAccessLogDestination,
}

/// An access log destination.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayElbAccessLogDestination {
    /// An S3 bucket.
    pub s3: Option<GatewayElbAccessLogS3Destination>,
}

/// An S3 bucket for access logs.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayElbAccessLogS3Destination {
    /// Bucket name.
    #[schemars(length(min = 1))]
    pub bucket: String,
    /// Object key prefix.
    pub prefix: Option<String>,
}

/// Test traffic rules of the gateway's listener.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayAlbTestTrafficRules {
    /// Requests with this header (and one of its values) are test traffic.
    pub header: Option<GatewayTestTrafficHeader>,
}

/// A header that marks test traffic.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayTestTrafficHeader {
    /// Header name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Header values.
    #[schemars(length(min = 1))]
    pub values: Vec<String>,
}

aws_enum!(
    /// Whether the gateway's load balancers face the internet.
    GatewayElbScheme { InternetFacing = "internet-facing", Internal = "internal" }
);

aws_enum!(
    /// IP address type of the gateway's load balancers.
    GatewayElbIpAddressType {
        Dualstack = "dualstack",
        DualstackWithoutPublicIpv4 = "dualstack-without-public-ipv4",
        Ipv4 = "ipv4",
    }
);

aws_enum!(
    /// Listener protocol of the gateway.
    GatewayAlbProtocol { Https = "HTTPS", Http = "HTTP" }
);

aws_enum!(
    /// Desync mitigation mode of the gateway's load balancers.
    GatewayAlbDesyncMitigationMode {
        Defensive = "defensive",
        Monitor = "monitor",
        Strictest = "strictest",
    }
);

aws_enum!(
    /// Whether the gateway's tags go to the infrastructure it manages.
    PropagateGatewayTags { Gateway = "GATEWAY", None = "NONE" }
);

/// Observed state of an ECS gateway.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcsGatewayStatus {
    /// The metadata.generation the status was computed for.
    pub observed_generation: Option<i64>,
    /// The `ecs.operator.dev/refresh` annotation value last honoured.
    pub last_refreshed: Option<String>,
    /// Ready and Synced conditions.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Gateway ARN (what an EcsService's gatewayRef resolves to).
    pub arn: Option<String>,
    /// ACTIVE, UPDATE_IN_PROGRESS, UPDATE_COMPLETE, UPDATE_FAILED or DELETED.
    pub status: Option<String>,
    /// Why the gateway is in that status (set on failures).
    pub status_reason: Option<String>,
    /// PUBLIC or PRIVATE, from the scheme.
    pub access_type: Option<String>,
    /// Whether deletion protection is on, as ECS reports it.
    pub deletion_protection: Option<bool>,
    /// Load balancers the gateway has allocated so far.
    pub current_alb_count: Option<i32>,
    /// The clusters associated with the gateway (ACTIVE or DISASSOCIATING).
    #[serde(default)]
    pub associated_clusters: Vec<GatewayClusterAssociation>,
    /// How many clusters are ACTIVE associations.
    pub cluster_count: Option<i32>,
}

/// One cluster association of the gateway.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClusterAssociation {
    /// Cluster ARN.
    pub cluster_arn: String,
    /// ACTIVE or DISASSOCIATING (until the cluster's services stop routing through it).
    pub status: String,
}

impl EcsGateway {
    /// The gateway name: spec.name, else metadata.name.
    pub fn gateway_name(&self) -> String {
        self.spec
            .name
            .clone()
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }

    /// Whether the spec manages the gateway's cluster associations.
    pub fn manages_clusters(&self) -> bool {
        self.spec.cluster_refs.is_some() || self.spec.clusters.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn crd_has_names_columns_and_rules() {
        let crd = serde_json::to_string(&EcsGateway::crd()).expect("CRD serialises");
        for want in [
            "\"plural\":\"ecsgateways\"",
            "\"name\":\"Clusters\"",
            "gateway-name-immutable:",
            "gateway-type-immutable:",
            "gateway-scheme-immutable:",
            "gateway-network-immutable:",
        ] {
            assert!(crd.contains(want), "CRD lacks {want}");
        }
    }
}
