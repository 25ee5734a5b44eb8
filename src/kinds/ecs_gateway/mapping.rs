//! EcsGateway, pure: the desired request from the spec, what AWS reports, the diff between them
//! (UpdateGateway fields and cluster associations), readiness and status. No client, no I/O.
//!
//! ECS fills what the spec leaves out (scheme internet-facing, port 443, HTTPS, 10 load
//! balancers, deletion protection on ...), so only what the spec sets is compared. Of the
//! configuration only what UpdateGateway takes is compared (inboundSecurityGroup, maxAlbCount,
//! webAclArn, accessLogs, httpDesync, testTrafficRules); the rest is immutable (CEL refuses a
//! change) or fixed by ECS (port, protocol).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::operation::create_gateway::CreateGatewayInput;
use aws_sdk_ecs::operation::create_gateway::builders::CreateGatewayInputBuilder;
use aws_sdk_ecs::operation::update_gateway::UpdateGatewayInput;
use aws_sdk_ecs::operation::update_gateway::builders::UpdateGatewayInputBuilder;
use aws_sdk_ecs::types::{Gateway, GatewayClusterAssociationSummary};
use serde_json::{Map, Value, json};

use crate::api::ecs_gateway::{EcsGatewaySpec, EcsGatewayStatus, GatewayClusterAssociation};
use crate::aws::bridge;
use crate::aws::errors::AwsError;
use crate::engine::conditions::reason;
use crate::engine::{Note, Readiness};

const CREATE: &str = "CreateGateway";
const UPDATE: &str = "UpdateGateway";

/// Reason of a gateway whose last UpdateGateway failed in ECS.
pub const UPDATE_FAILED: &str = "UpdateFailed";

/// The hostSharedAlb fields UpdateGateway takes.
const MUTABLE_ALB: &[&str] = &[
    "maxAlbCount",
    "webAclArn",
    "accessLogs",
    "httpDesync",
    "testTrafficRules",
];

/// The spec with references resolved: what CreateGateway is sent, and the clusters.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub name: String,
    pub infrastructure_role_arn: String,
    pub deletion_protection: Option<bool>,
    pub propagate_tags: Option<String>,
    /// `spec.configuration` as AWS JSON (`{"hostSharedAlb": {...}}`).
    pub configuration: Option<Map<String, Value>>,
    /// Spec tags plus the ownership tags.
    pub tags: BTreeMap<String, String>,
    /// Cluster name -> what the association calls are sent (the name or ARN the spec gave, the
    /// ARN a clusterRef resolved to). `None`: the spec does not manage associations.
    pub clusters: Option<BTreeMap<String, String>>,
}

/// The cluster name in a cluster ARN (`arn:...:cluster/NAME`); a name is itself.
pub fn cluster_name(name_or_arn: &str) -> &str {
    match name_or_arn.rsplit_once(":cluster/") {
        Some((_, name)) => name,
        None => name_or_arn,
    }
}

/// The desired state; `refs` are the ARNs the spec's clusterRefs resolved to.
pub fn desired(
    spec: &EcsGatewaySpec,
    name: String,
    refs: Vec<String>,
    owner_tags: &BTreeMap<String, String>,
) -> Result<Desired, String> {
    let configuration = match &spec.configuration {
        Some(c) => match serde_json::to_value(c).map_err(|e| e.to_string())? {
            Value::Object(m) => Some(m),
            other => return Err(format!("configuration is not an object: {other}")),
        },
        None => None,
    };
    let mut tags: BTreeMap<String, String> = spec
        .tags
        .iter()
        .flatten()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    tags.extend(owner_tags.clone());
    let clusters = (spec.clusters.is_some() || spec.cluster_refs.is_some()).then(|| {
        spec.clusters
            .iter()
            .flatten()
            .cloned()
            .chain(refs)
            .map(|c| (cluster_name(&c).to_string(), c))
            .collect()
    });
    Ok(Desired {
        name,
        infrastructure_role_arn: spec.infrastructure_role_arn.clone(),
        deletion_protection: spec.deletion_protection,
        propagate_tags: spec.propagate_tags.as_ref().map(|p| p.as_str().to_string()),
        configuration,
        tags,
        clusters,
    })
}

fn invalid(op: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError::terminal(op, "InvalidGatewaySpec", e.to_string())
}

/// The CreateGateway request; `token` is its client token (the object's UID).
pub fn create_input(d: &Desired, token: &str) -> Result<CreateGatewayInputBuilder, AwsError> {
    let mut request = Map::new();
    request.insert("name".into(), json!(d.name));
    request.insert(
        "infrastructureRoleArn".into(),
        json!(d.infrastructure_role_arn),
    );
    request.insert("clientToken".into(), json!(token));
    if let Some(p) = d.deletion_protection {
        request.insert("deletionProtection".into(), json!(p));
    }
    if let Some(p) = &d.propagate_tags {
        request.insert("propagateTags".into(), json!(p));
    }
    // ECS requires exactly one variant: the spec's, else an empty hostSharedAlb (the only type).
    let configuration = d
        .configuration
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("hostSharedAlb".into(), json!({}));
            m
        });
    request.insert("configuration".into(), Value::Object(configuration));
    if !d.tags.is_empty() {
        let tags: Vec<Value> = d
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        request.insert("tags".into(), Value::Array(tags));
    }
    let i = bridge::to_sdk(&request, CreateGatewayInput::deserialize)
        .map_err(|e| invalid(CREATE, e))?;
    Ok(CreateGatewayInput::builder()
        .set_name(i.name)
        .set_infrastructure_role_arn(i.infrastructure_role_arn)
        .set_client_token(i.client_token)
        .set_deletion_protection(i.deletion_protection)
        .set_configuration(i.configuration)
        .set_tags(i.tags)
        .set_propagate_tags(i.propagate_tags))
}

/// The desired hostSharedAlb fields UpdateGateway takes, as AWS JSON.
fn mutable_alb(d: &Desired) -> Map<String, Value> {
    let Some(Value::Object(alb)) = d
        .configuration
        .as_ref()
        .and_then(|c| c.get("hostSharedAlb"))
    else {
        return Map::new();
    };
    let mut out: Map<String, Value> = MUTABLE_ALB
        .iter()
        .filter_map(|k| alb.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    if let Some(sg) = alb
        .get("networkConfiguration")
        .and_then(|n| n.get("inboundSecurityGroup"))
    {
        out.insert(
            "networkConfiguration".into(),
            json!({"inboundSecurityGroup": sg}),
        );
    }
    out
}

/// The UpdateGateway request: exactly the changed fields.
pub fn update_input(
    d: &Desired,
    arn: &str,
    fields: &[&str],
) -> Result<UpdateGatewayInputBuilder, AwsError> {
    let mut request = Map::new();
    request.insert("gateway".into(), json!(arn));
    for field in fields {
        match *field {
            "infrastructureRoleArn" => {
                request.insert(field.to_string(), json!(d.infrastructure_role_arn));
            }
            "deletionProtection" => {
                request.insert(field.to_string(), json!(d.deletion_protection));
            }
            "propagateTags" => {
                request.insert(field.to_string(), json!(d.propagate_tags));
            }
            "configuration" => {
                request.insert(
                    field.to_string(),
                    json!({"hostSharedAlb": Value::Object(mutable_alb(d))}),
                );
            }
            _ => {}
        }
    }
    let i = bridge::to_sdk(&request, UpdateGatewayInput::deserialize)
        .map_err(|e| invalid(UPDATE, e))?;
    Ok(UpdateGatewayInput::builder()
        .set_gateway(i.gateway)
        .set_infrastructure_role_arn(i.infrastructure_role_arn)
        .set_deletion_protection(i.deletion_protection)
        .set_configuration(i.configuration)
        .set_propagate_tags(i.propagate_tags))
}

/// What AWS reports about a gateway and its cluster associations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub arn: String,
    pub status: Option<String>,
    pub status_reason: Option<String>,
    pub access_type: Option<String>,
    pub deletion_protection: Option<bool>,
    pub infrastructure_role_arn: Option<String>,
    pub propagate_tags: Option<String>,
    /// `configuration.hostSharedAlb` as AWS JSON.
    pub alb: Map<String, Value>,
    pub tags: BTreeMap<String, String>,
    /// (cluster ARN, ACTIVE / DISASSOCIATING), sorted; INACTIVE ones are left out.
    pub associations: Vec<(String, String)>,
    /// Carried from `Desired` by observe: the cluster names the spec wants (`None`: not
    /// managed), for readiness.
    pub wanted: Option<BTreeSet<String>>,
}

/// Observed from DescribeGateway and ListGatewayClusterAssociations; `None` without an ARN.
pub fn observed(
    g: &Gateway,
    associations: &[GatewayClusterAssociationSummary],
) -> Option<Observed> {
    let arn = g.gateway_arn.clone()?;
    let alb = g
        .configuration
        .as_ref()
        .and_then(|c| bridge::to_json(c).ok())
        .and_then(|v| v.get("hostSharedAlb").cloned())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    let mut associations: Vec<(String, String)> = associations
        .iter()
        .filter_map(|a| {
            let status = a.status.as_ref()?.as_str().to_string();
            (status != "INACTIVE").then_some((a.cluster_arn.clone()?, status))
        })
        .collect();
    associations.sort();
    associations.dedup();
    Some(Observed {
        arn,
        status: g.status.as_ref().map(|s| s.as_str().to_string()),
        status_reason: g.status_reason.clone(),
        access_type: g.access_type.as_ref().map(|a| a.as_str().to_string()),
        deletion_protection: g.deletion_protection,
        infrastructure_role_arn: g.infrastructure_role_arn.clone(),
        propagate_tags: g.propagate_tags.as_ref().map(|p| p.as_str().to_string()),
        alb,
        tags: crate::aws::tags::ecs::map(g.tags()),
        associations,
        wanted: None,
    })
}

/// One change: an UpdateGateway with these request fields, or one association call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Update(Vec<&'static str>),
    /// AssociateGatewayWithCluster with this cluster (name or ARN).
    Associate(String),
    /// DisassociateGatewayFromCluster with this cluster ARN.
    Disassociate(String),
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Change::Update(fields) => format!("update gateway: {}", fields.join(", ")),
            Change::Associate(c) => format!("associate with cluster {}", cluster_name(c)),
            Change::Disassociate(c) => format!("disassociate from cluster {}", cluster_name(c)),
        }
    }
}

/// What must change: UpdateGateway fields first, then associations (in cluster order).
pub fn diff(d: &Desired, o: &Observed) -> Vec<Change> {
    let mut fields = Vec::new();
    if o.infrastructure_role_arn.as_deref() != Some(d.infrastructure_role_arn.as_str()) {
        fields.push("infrastructureRoleArn");
    }
    if d.deletion_protection.is_some() && d.deletion_protection != o.deletion_protection {
        fields.push("deletionProtection");
    }
    if d.propagate_tags.is_some() && d.propagate_tags != o.propagate_tags {
        fields.push("propagateTags");
    }
    let want = mutable_alb(d);
    if want.iter().any(|(k, v)| !covers(v, o.alb.get(k))) {
        fields.push("configuration");
    }
    let mut changes = Vec::new();
    if !fields.is_empty() {
        changes.push(Change::Update(fields));
    }
    if let Some(clusters) = &d.clusters {
        let have: BTreeMap<&str, (&str, &str)> = o
            .associations
            .iter()
            .map(|(arn, s)| (cluster_name(arn), (arn.as_str(), s.as_str())))
            .collect();
        for (name, send) in clusters {
            if !have.contains_key(name.as_str()) {
                changes.push(Change::Associate(send.clone()));
            }
        }
        let wanted: BTreeSet<&str> = clusters.keys().map(String::as_str).collect();
        for (name, (arn, status)) in &have {
            if *status == "ACTIVE" && !wanted.contains(name) {
                changes.push(Change::Disassociate(arn.to_string()));
            }
        }
    }
    changes
}

/// Whether `have` carries everything `want` sets (lists regardless of order).
fn covers(want: &Value, have: Option<&Value>) -> bool {
    let Some(have) = have else {
        return matches!(want, Value::Null);
    };
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w.iter().all(|(k, v)| covers(v, h.get(k))),
        (Value::Array(w), Value::Array(h)) => {
            let mut w = w.clone();
            let mut h = h.clone();
            w.sort_by_key(|v| v.to_string());
            h.sort_by_key(|v| v.to_string());
            w.len() == h.len() && w.iter().zip(&h).all(|(a, b)| covers(a, Some(b)))
        }
        (w, h) => w == h,
    }
}

impl Observed {
    /// The status fields.
    pub fn status(&self) -> EcsGatewayStatus {
        let associated: Vec<GatewayClusterAssociation> = self
            .associations
            .iter()
            .map(|(arn, status)| GatewayClusterAssociation {
                cluster_arn: arn.clone(),
                status: status.clone(),
            })
            .collect();
        let active = associated.iter().filter(|a| a.status == "ACTIVE").count();
        EcsGatewayStatus {
            arn: Some(self.arn.clone()),
            status: self.status.clone(),
            status_reason: self.status_reason.clone(),
            access_type: self.access_type.clone(),
            deletion_protection: self.deletion_protection,
            current_alb_count: self
                .alb
                .get("currentAlbCount")
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok()),
            associated_clusters: associated,
            cluster_count: i32::try_from(active).ok(),
            ..Default::default()
        }
    }
}

/// Ready when the gateway is ACTIVE (or its last update completed) and every cluster the spec
/// names is associated. An update in flight is work in progress; a failed update waits for a
/// spec change (Stalled, with ECS's reason). A cluster left DISASSOCIATING (its services still
/// route through the gateway) does not make the gateway unusable: the message says so.
pub fn readiness(o: &Observed) -> Readiness {
    let status = o.status.as_deref().unwrap_or("unknown");
    match status {
        "ACTIVE" | "UPDATE_COMPLETE" => {}
        "UPDATE_FAILED" => {
            let message = format!(
                "the last update failed: {}",
                o.status_reason.as_deref().unwrap_or("no reason given")
            );
            let mut r = Readiness::not_ready(UPDATE_FAILED, message.clone());
            r.stalled = Some(Note::new(UPDATE_FAILED, message));
            return r;
        }
        other => {
            return Readiness::not_ready(reason::WAITING, format!("gateway is {other}"));
        }
    }
    let associated: BTreeSet<&str> = o
        .associations
        .iter()
        .filter(|(_, s)| s == "ACTIVE")
        .map(|(arn, _)| cluster_name(arn))
        .collect();
    if let Some(clusters) = &o.wanted {
        let missing: Vec<&str> = clusters
            .iter()
            .map(String::as_str)
            .filter(|c| !associated.contains(c))
            .collect();
        if !missing.is_empty() {
            return Readiness::not_ready(
                reason::WAITING,
                format!("not associated yet with cluster(s) {}", missing.join(", ")),
            );
        }
    }
    let leaving: Vec<&str> = o
        .associations
        .iter()
        .filter(|(_, s)| s == "DISASSOCIATING")
        .map(|(arn, _)| cluster_name(arn))
        .collect();
    let mut message = format!(
        "gateway {status}, associated with {} cluster(s)",
        associated.len()
    );
    if !leaving.is_empty() {
        message.push_str(&format!(
            "; disassociating from {} until its services stop routing through the gateway",
            leaving.join(", ")
        ));
    }
    Readiness::ready(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs_gateway::{GatewayConfiguration, HostSharedAlbConfiguration};
    use crate::api::ecs_service::ClusterReference;

    fn spec() -> EcsGatewaySpec {
        EcsGatewaySpec {
            infrastructure_role_arn: "arn:aws:iam::123456789012:role/infra".into(),
            deletion_protection: Some(false),
            configuration: Some(GatewayConfiguration {
                host_shared_alb: Some(HostSharedAlbConfiguration {
                    max_alb_count: Some(3),
                    ..Default::default()
                }),
            }),
            clusters: Some(vec!["a".into()]),
            cluster_refs: Some(vec![ClusterReference {
                name: "b".into(),
                namespace: None,
            }]),
            ..Default::default()
        }
    }

    fn desired_of(spec: &EcsGatewaySpec) -> Desired {
        desired(
            spec,
            "gw".into(),
            vec!["arn:aws:ecs:us-east-1:1:cluster/b".into()],
            &BTreeMap::new(),
        )
        .expect("desired")
    }

    const A: &str = "arn:aws:ecs:us-east-1:1:cluster/a";
    const B: &str = "arn:aws:ecs:us-east-1:1:cluster/b";
    const C: &str = "arn:aws:ecs:us-east-1:1:cluster/c";

    fn observed_with(alb: Value, associations: &[(&str, &str)]) -> Observed {
        Observed {
            arn: "arn:gw".into(),
            status: Some("ACTIVE".into()),
            deletion_protection: Some(false),
            infrastructure_role_arn: Some("arn:aws:iam::123456789012:role/infra".into()),
            alb: alb.as_object().cloned().unwrap_or_default(),
            associations: associations
                .iter()
                .map(|(a, s)| (a.to_string(), s.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn cluster_names_table() {
        for (input, want) in [(A, "a"), ("a", "a"), ("x/y", "x/y")] {
            assert_eq!(cluster_name(input), want);
        }
    }

    #[test]
    fn diff_table() {
        let d = desired_of(&spec());
        let alb = json!({"maxAlbCount": 3, "port": 443, "scheme": "internet-facing"});
        let cases: Vec<(Observed, Vec<Change>)> = vec![
            (
                observed_with(alb.clone(), &[(A, "ACTIVE"), (B, "ACTIVE")]),
                vec![],
            ),
            (
                observed_with(alb.clone(), &[(A, "ACTIVE")]),
                vec![Change::Associate(B.into())],
            ),
            (
                observed_with(alb.clone(), &[]),
                vec![Change::Associate("a".into()), Change::Associate(B.into())],
            ),
            (
                observed_with(alb.clone(), &[(A, "ACTIVE"), (B, "ACTIVE"), (C, "ACTIVE")]),
                vec![Change::Disassociate(C.into())],
            ),
            // Already leaving: nothing to send again.
            (
                observed_with(
                    alb.clone(),
                    &[(A, "ACTIVE"), (B, "ACTIVE"), (C, "DISASSOCIATING")],
                ),
                vec![],
            ),
            (
                observed_with(json!({"maxAlbCount": 10}), &[(A, "ACTIVE"), (B, "ACTIVE")]),
                vec![Change::Update(vec!["configuration"])],
            ),
        ];
        for (o, want) in cases {
            assert_eq!(diff(&d, &o), want, "{o:?}");
        }
        let mut protected = observed_with(alb.clone(), &[(A, "ACTIVE"), (B, "ACTIVE")]);
        protected.deletion_protection = Some(true);
        assert_eq!(
            diff(&d, &protected),
            vec![Change::Update(vec!["deletionProtection"])]
        );
    }

    #[test]
    fn unmanaged_associations_are_left_alone() {
        let mut s = spec();
        s.clusters = None;
        s.cluster_refs = None;
        let d = desired(&s, "gw".into(), vec![], &BTreeMap::new()).expect("desired");
        assert_eq!(d.clusters, None);
        let o = observed_with(json!({"maxAlbCount": 3}), &[(C, "ACTIVE")]);
        assert!(diff(&d, &o).is_empty());
        // An empty list is managed: everything goes.
        s.clusters = Some(vec![]);
        let d = desired(&s, "gw".into(), vec![], &BTreeMap::new()).expect("desired");
        assert_eq!(diff(&d, &o), vec![Change::Disassociate(C.into())]);
    }

    #[test]
    fn requests_carry_the_spec_and_only_the_changes() {
        let mut owner = BTreeMap::new();
        owner.insert("owner".to_string(), "me".to_string());
        let d = desired(&spec(), "gw".into(), vec![], &owner).expect("desired");
        let create = create_input(&d, "uid")
            .expect("create")
            .build()
            .expect("build");
        assert_eq!(create.name(), Some("gw"));
        assert_eq!(create.client_token(), Some("uid"));
        assert_eq!(create.deletion_protection(), Some(false));
        assert_eq!(create.tags().len(), 1);
        let alb = create
            .configuration()
            .and_then(|c| c.as_host_shared_alb().ok())
            .expect("hostSharedAlb");
        assert_eq!(alb.max_alb_count(), Some(3));
        // No configuration in the spec: the one gateway type, with ECS's defaults.
        let mut bare = d.clone();
        bare.configuration = None;
        let create = create_input(&bare, "uid")
            .expect("create")
            .build()
            .expect("build");
        assert!(
            create
                .configuration()
                .is_some_and(|c| c.is_host_shared_alb())
        );
        let update = update_input(&d, "arn:gw", &["deletionProtection"])
            .expect("update")
            .build()
            .expect("build");
        assert_eq!(update.gateway(), Some("arn:gw"));
        assert_eq!(update.deletion_protection(), Some(false));
        assert!(update.configuration().is_none());
        assert!(update.infrastructure_role_arn().is_none());
    }

    #[test]
    fn readiness_table() {
        let d = desired_of(&spec());
        let readiness = |o: &Observed| {
            let mut o = o.clone();
            o.wanted = d.clusters.as_ref().map(|c| c.keys().cloned().collect());
            super::readiness(&o)
        };
        let both = observed_with(json!({}), &[(A, "ACTIVE"), (B, "ACTIVE")]);
        assert!(readiness(&both).ready);
        let one = observed_with(json!({}), &[(A, "ACTIVE")]);
        let r = readiness(&one);
        assert!(!r.ready && r.message.contains('b'), "{r:?}");
        let mut updating = both.clone();
        updating.status = Some("UPDATE_IN_PROGRESS".into());
        assert_eq!(readiness(&updating).reason, reason::WAITING);
        let mut failed = both.clone();
        failed.status = Some("UPDATE_FAILED".into());
        failed.status_reason = Some("boom".into());
        let r = readiness(&failed);
        assert!(r.stalled.is_some() && r.message.contains("boom"), "{r:?}");
        let leaving = observed_with(
            json!({}),
            &[(A, "ACTIVE"), (B, "ACTIVE"), (C, "DISASSOCIATING")],
        );
        let r = readiness(&leaving);
        assert!(
            r.ready && r.message.contains("disassociating from c"),
            "{r:?}"
        );
        assert_eq!(leaving.status().cluster_count, Some(2));
        assert_eq!(leaving.status().associated_clusters.len(), 3);
    }
}
