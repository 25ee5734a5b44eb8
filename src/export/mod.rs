//! `ecs-operator export`: an existing ECS/ECR estate as manifests that adopt it. [`gather`] reads
//! AWS (calls in `read.rs`); [`assemble`] is pure: object names, references and the YAML
//! stream, with a self-check that applying each object would write nothing but ownership tags.

pub(crate) mod read;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use aws_sdk_ecs::types as ecs;
use serde::Serialize;
use serde_yaml::{Mapping, Value as Yaml};

use self::read::RepositoryState;
use crate::aws;
use crate::aws::errors::required;
use crate::aws::tags::OWNER_TAG;
use crate::kinds::task_definition::sdk::Revision;

const API_VERSION: &str = "ecs.operator.dev/v1alpha1";
/// DNS-1123 label length, the longest metadata.name every tool accepts.
const MAX_NAME: usize = 63;
/// Comment lines are wrapped to this many characters.
const COMMENT_WIDTH: usize = 98;

/// What to export.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Region (otherwise AWS_REGION / the profile).
    pub region: Option<String>,
    /// Cluster names or ARNs; empty means every cluster in the region.
    pub clusters: Vec<String>,
    /// Also the latest ACTIVE revision of every family, not only those the services use.
    pub all_task_definition_families: bool,
    /// Export ECR repositories.
    pub repositories: bool,
    /// Only repositories whose name starts with this.
    pub repository_prefix: Option<String>,
    /// metadata.namespace of every object (none: the namespace `kubectl apply` uses).
    pub namespace: Option<String>,
    /// spec.deletionPolicy of every object (none: the namespace / operator default).
    pub deletion_policy: Option<String>,
    /// Attempts per AWS call by the SDK's own retry.
    pub aws_max_attempts: u32,
}

/// The YAML stream, and warnings for the person applying it.
#[derive(Clone, Debug, Default)]
pub struct Export {
    pub yaml: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Config(#[from] aws::ConfigError),
    #[error(transparent)]
    Aws(#[from] aws::AwsError),
    #[error("cluster {0} not found (or INACTIVE) in region {1}")]
    ClusterNotFound(String, String),
    #[error("serialising manifests: {0}")]
    Serialize(#[from] serde_yaml::Error),
}

/// One cluster, its ACTIVE services and its Express services.
#[derive(Clone, Debug)]
pub struct ClusterState {
    pub cluster: ecs::Cluster,
    /// Services the customer manages (not Express services).
    pub services: Vec<ecs::Service>,
    /// Express services (DescribeExpressGatewayService), exported as EcsExpressService objects.
    pub express: Vec<ecs::EcsExpressGatewayService>,
}

/// Everything read from AWS, before any naming or mapping.
#[derive(Clone, Debug, Default)]
pub struct Estate {
    pub region: String,
    pub repositories: Vec<RepositoryState>,
    pub clusters: Vec<ClusterState>,
    /// Described revisions, by the task definition a service reports and by ARN.
    pub revisions: BTreeMap<String, Revision>,
    /// ARN of the latest ACTIVE revision, by family.
    pub latest: BTreeMap<String, String>,
    /// Families exported whether or not a service uses them (`--all-task-definition-families`).
    pub families: BTreeSet<String>,
    /// Gateways associated with an exported cluster (every gateway when every cluster is).
    pub gateways: Vec<read::GatewayState>,
    /// What could not be read (and so is not exported), for the warnings.
    pub unread: Vec<String>,
}

/// Reads AWS, assembles the manifests.
pub async fn export(opts: &ExportOptions) -> Result<Export, ExportError> {
    let provider = aws::AwsProvider::load(&aws::AwsSettings {
        region: opts.region.clone(),
        endpoint_url: None,
        max_attempts: opts.aws_max_attempts,
        // The CLI serves no /metrics: its calls are counted nowhere else.
        metrics: Default::default(),
    })
    .await?;
    let clients = provider.clients(None, None, "export").await;
    let estate = gather(&clients.ecr, &clients.ecs, &clients.region, opts).await?;
    assemble(&estate, opts)
}

/// Reads the clusters, their services and Express services, the revisions the services run (and
/// the latest ACTIVE one of each family), other families on request, and the repositories.
pub async fn gather(
    ecr: &aws_sdk_ecr::Client,
    ecs: &aws_sdk_ecs::Client,
    region: &str,
    opts: &ExportOptions,
) -> Result<Estate, ExportError> {
    let names = if opts.clusters.is_empty() {
        read::list_clusters(ecs).await?
    } else {
        opts.clusters.clone()
    };
    let mut found = read::describe_clusters(ecs, &names).await?;
    for wanted in &opts.clusters {
        let matches = |c: &ecs::Cluster| {
            c.cluster_name.as_deref() == Some(wanted.as_str())
                || c.cluster_arn.as_deref() == Some(wanted.as_str())
        };
        if !found.iter().any(matches) {
            return Err(ExportError::ClusterNotFound(
                wanted.clone(),
                region.to_string(),
            ));
        }
    }
    found.sort_by(|a, b| a.cluster_name.cmp(&b.cluster_name));
    found.dedup_by(|a, b| a.cluster_arn == b.cluster_arn);

    let mut estate = Estate {
        region: region.to_string(),
        ..Default::default()
    };
    let mut families = BTreeSet::new();
    for cluster in found {
        let arn = required(
            cluster.cluster_arn.clone(),
            "DescribeClusters",
            "clusterArn",
        )?;
        // An Express service is an ECS service too; its task definition is ECS's to manage.
        let (express_services, services): (Vec<_>, Vec<_>) = read::services(ecs, &arn)
            .await?
            .into_iter()
            .partition(read::is_express);
        let mut express = Vec::new();
        for svc in express_services
            .iter()
            .filter_map(|s| s.service_arn.as_deref())
        {
            express.extend(read::express_service(ecs, svc).await?);
        }
        for td in services.iter().filter_map(|s| s.task_definition.as_deref()) {
            if estate.revisions.contains_key(td) {
                continue;
            }
            if let Some(rev) = read::revision(ecs, td).await? {
                families.insert(rev.family.clone());
                estate.revisions.insert(rev.arn.clone(), rev.clone());
                estate.revisions.insert(td.to_string(), rev);
            }
        }
        estate.clusters.push(ClusterState {
            cluster,
            services,
            express,
        });
    }
    if opts.all_task_definition_families {
        estate.families = read::active_families(ecs).await?.into_iter().collect();
    }
    for family in families.iter().chain(&estate.families) {
        if estate.latest.contains_key(family) {
            continue;
        }
        let Some(arn) = read::latest_active_revision(ecs, family).await? else {
            continue;
        };
        if !estate.revisions.contains_key(&arn)
            && let Some(rev) = read::revision(ecs, &arn).await?
        {
            estate.revisions.insert(arn.clone(), rev);
        }
        estate.latest.insert(family.clone(), arn);
    }
    if opts.repositories {
        estate.repositories = read::repositories(ecr, opts.repository_prefix.as_deref()).await?;
    }
    // Gateways are newer than most policies: without the permission, export the rest.
    match read::gateways(ecs).await {
        Ok(gateways) => {
            let exported: BTreeSet<String> = estate
                .clusters
                .iter()
                .filter_map(|c| c.cluster.cluster_arn.clone())
                .collect();
            estate.gateways = gateways
                .into_iter()
                .filter(|g| {
                    opts.clusters.is_empty() || g.clusters().iter().any(|c| exported.contains(c))
                })
                .collect();
        }
        Err(e) if e.class == aws::ErrorClass::Environment => estate
            .unread
            .push(format!("gateways are not exported: {e}")),
        Err(e) => return Err(e.into()),
    }
    Ok(estate)
}

/// A valid object name (DNS-1123 label) for an AWS name: lowercase, every run of other
/// characters (`_`, `/`, `.`) as one `-`, at most 63 characters; `fallback` when nothing is left.
pub fn object_name(aws_name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in aws_name.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(MAX_NAME);
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        fallback.to_string()
    } else {
        out.to_string()
    }
}

/// Object names handed out for one kind, so two AWS names never map to one object.
#[derive(Default)]
struct Names {
    taken: HashSet<String>,
}

impl Names {
    /// `object_name(aws_name)`; when taken, with `-<qualifier>` (e.g. the service's cluster),
    /// then with `-2`, `-3`, ...
    fn claim(&mut self, aws_name: &str, qualifier: Option<&str>, fallback: &str) -> String {
        let base = object_name(aws_name, fallback);
        let mut candidates = vec![base.clone()];
        if let Some(q) = qualifier {
            candidates.push(object_name(&format!("{base}-{q}"), fallback));
        }
        for candidate in candidates {
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
        (2u64..)
            .map(|n| {
                let suffix = format!("-{n}");
                let mut stem = base.clone();
                stem.truncate(MAX_NAME - suffix.len());
                format!("{}{suffix}", stem.trim_end_matches('-'))
            })
            .find(|candidate| self.taken.insert(candidate.clone()))
            .unwrap_or(base)
    }
}

/// One document of the stream.
struct Document {
    comments: Vec<String>,
    manifest: Yaml,
}

/// How a service names its task definition.
enum TaskDefinitionChoice {
    /// It runs its family's latest ACTIVE revision (family, ARN): `taskDefinitionRef` to the
    /// family's object, which resolves to that ARN.
    Reference(String, String),
    /// Anything else: `taskDefinition` with exactly what it runs, and why.
    Pinned(String, String),
    /// No task definition (EXTERNAL deployment controller).
    None,
}

fn choose_task_definition(svc: &ecs::Service, estate: &Estate) -> TaskDefinitionChoice {
    let Some(td) = svc.task_definition.clone() else {
        return TaskDefinitionChoice::None;
    };
    let Some(rev) = estate.revisions.get(&td) else {
        return TaskDefinitionChoice::Pinned(
            td,
            "its task definition could not be described, so it is kept as is".into(),
        );
    };
    let revision = format!("{}:{}", rev.family, rev.revision);
    match estate.latest.get(&rev.family) {
        Some(latest) if *latest == rev.arn => {
            TaskDefinitionChoice::Reference(rev.family.clone(), rev.arn.clone())
        }
        Some(latest) => {
            let latest = read::parse_task_definition_arn(latest)
                .map(|(_, r)| r.to_string())
                .unwrap_or_else(|| latest.clone());
            TaskDefinitionChoice::Pinned(
                td,
                format!(
                    "it runs {revision}, not the family's latest ACTIVE revision ({latest}); a \
                     TaskDefinition object adopts the latest, so this service keeps its exact \
                     revision in taskDefinition (switch to taskDefinitionRef to roll it forward)"
                ),
            )
        }
        None => TaskDefinitionChoice::Pinned(
            td,
            format!(
                "it runs {revision}, and {} has no ACTIVE revision",
                rev.family
            ),
        ),
    }
}

/// The manifests for `estate`, in apply order (repositories, clusters, gateways, task
/// definitions, services, Express services), with warnings for whatever an object would still
/// change in AWS. Pure.
pub fn assemble(estate: &Estate, opts: &ExportOptions) -> Result<Export, ExportError> {
    let mut docs = Vec::new();
    let mut warnings = estate.unread.clone();

    let mut names = Names::default();
    for state in &estate.repositories {
        let mut read = read::repository_spec(state);
        let name = names.claim(state.name(), None, "repository");
        read.notes.extend(owned_by(
            state
                .tags
                .iter()
                .map(|t| (t.key.as_str(), t.value.as_str())),
        ));
        let comments = report(
            &mut warnings,
            ("EcrRepository", &name),
            read.notes,
            read::repository_differences(&read.spec, state)?,
        );
        let spec = spec_yaml(&read.spec, "repositoryName", Vec::new(), opts)?;
        docs.push(Document {
            comments,
            manifest: manifest("EcrRepository", &name, spec, opts),
        });
    }

    let mut names = Names::default();
    let mut cluster_objects = BTreeMap::new();
    for state in &estate.clusters {
        let cluster = &state.cluster;
        let aws_name = cluster.cluster_name.as_deref().unwrap_or_default();
        let mut read = read::cluster_spec(cluster)?;
        let name = names.claim(aws_name, None, "cluster");
        read.notes
            .extend(owned_by(ecs_tags(cluster.tags.as_deref())));
        let comments = report(
            &mut warnings,
            ("EcsCluster", &name),
            read.notes,
            read::cluster_differences(&read.spec, cluster)?,
        );
        let spec = spec_yaml(&read.spec, "clusterName", Vec::new(), opts)?;
        docs.push(Document {
            comments,
            manifest: manifest("EcsCluster", &name, spec, opts),
        });
        let arn = required(
            cluster.cluster_arn.clone(),
            "DescribeClusters",
            "clusterArn",
        )?;
        cluster_objects.insert(arn, name);
    }

    let mut names = Names::default();
    for state in &estate.gateways {
        let aws_name = state.gateway.name.as_deref().unwrap_or_default();
        let mut read = read::gateway_spec(state);
        let name = names.claim(aws_name, None, "gateway");
        read.notes
            .extend(owned_by(ecs_tags(state.gateway.tags.as_deref())));
        let mut refs = Vec::new();
        let mut by_name = Vec::new();
        let mut resolved = Vec::new();
        for arn in state.clusters() {
            match cluster_objects.get(&arn) {
                Some(object) => {
                    refs.push(reference(object));
                    resolved.push(arn);
                }
                None => by_name.push(arn),
            }
        }
        read.spec.clusters = Some(by_name.clone());
        let differences = read::gateway_differences(&read.spec, resolved, state);
        read.spec.clusters = (!by_name.is_empty()).then_some(by_name);
        let mut extra = Vec::new();
        if !refs.is_empty() {
            extra.push(("clusterRefs", Yaml::Sequence(refs)));
        }
        let comments = report(
            &mut warnings,
            ("EcsGateway", &name),
            read.notes,
            differences,
        );
        docs.push(Document {
            comments,
            manifest: manifest(
                "EcsGateway",
                &name,
                spec_yaml(&read.spec, "name", extra, opts)?,
                opts,
            ),
        });
    }

    // Families a service references, plus those asked for: one TaskDefinition object each.
    let choices: Vec<Vec<TaskDefinitionChoice>> = estate
        .clusters
        .iter()
        .map(|c| {
            c.services
                .iter()
                .map(|s| choose_task_definition(s, estate))
                .collect()
        })
        .collect();
    let mut families = estate.families.clone();
    families.extend(choices.iter().flatten().filter_map(|c| match c {
        TaskDefinitionChoice::Reference(family, _) => Some(family.clone()),
        _ => None,
    }));
    let mut names = Names::default();
    let mut td_objects = BTreeMap::new();
    for family in &families {
        let Some(rev) = estate
            .latest
            .get(family)
            .and_then(|arn| estate.revisions.get(arn))
        else {
            warnings.push(format!(
                "task definition family {family}: no ACTIVE revision could be read; not exported"
            ));
            continue;
        };
        let name = names.claim(family, None, "task-definition");
        let spec = read::task_definition_spec(&rev.task_definition, &rev.aws_tags);
        let mut comments = vec![format!(
            "adopts {}:{} ({}), the latest ACTIVE revision of the family",
            rev.family, rev.revision, rev.arn
        )];
        comments.extend(report(
            &mut warnings,
            ("TaskDefinition", &name),
            owned_by(ecs_tags(Some(&rev.aws_tags)))
                .into_iter()
                .collect(),
            read::task_definition_differences(&spec, rev),
        ));
        docs.push(Document {
            comments,
            manifest: manifest(
                "TaskDefinition",
                &name,
                spec_yaml(&spec, "family", Vec::new(), opts)?,
                opts,
            ),
        });
        td_objects.insert(family.clone(), name);
    }

    let mut names = Names::default();
    for (state, choices) in estate.clusters.iter().zip(choices) {
        let cluster_arn = required(
            state.cluster.cluster_arn.clone(),
            "DescribeClusters",
            "clusterArn",
        )?;
        let cluster_object = cluster_objects
            .get(&cluster_arn)
            .cloned()
            .unwrap_or_default();
        for (svc, choice) in state.services.iter().zip(choices) {
            let aws_name = svc.service_name.as_deref().unwrap_or_default();
            let name = names.claim(aws_name, Some(&cluster_object), "service");
            let mut read = read::service_spec(svc);
            read.notes.extend(owned_by(ecs_tags(svc.tags.as_deref())));
            let mut refs = vec![("clusterRef", reference(&cluster_object))];
            // What the operator will resolve the task definition to.
            let mut resolved = svc.task_definition.clone().unwrap_or_default();
            match choice {
                TaskDefinitionChoice::Reference(family, arn) => match td_objects.get(&family) {
                    Some(td) => {
                        refs.push(("taskDefinitionRef", reference(td)));
                        resolved = arn;
                    }
                    None => read.spec.task_definition = svc.task_definition.clone(),
                },
                TaskDefinitionChoice::Pinned(td, why) => {
                    read.notes.insert(0, why);
                    read.spec.task_definition = Some(td);
                }
                TaskDefinitionChoice::None => {}
            }
            let comments = report(
                &mut warnings,
                ("EcsService", &name),
                read.notes,
                read::service_differences(&read.spec, svc, &resolved),
            );
            let spec = spec_yaml(&read.spec, "serviceName", refs, opts)?;
            docs.push(Document {
                comments,
                manifest: manifest("EcsService", &name, spec, opts),
            });
        }
    }

    let mut names = Names::default();
    for state in &estate.clusters {
        let cluster_arn = required(
            state.cluster.cluster_arn.clone(),
            "DescribeClusters",
            "clusterArn",
        )?;
        let cluster_object = cluster_objects
            .get(&cluster_arn)
            .cloned()
            .unwrap_or_default();
        for x in &state.express {
            let aws_name = x.service_name.as_deref().unwrap_or_default();
            let name = names.claim(aws_name, Some(&cluster_object), "express-service");
            let mut read = read::express_spec(x);
            read.notes.extend(owned_by(ecs_tags(x.tags.as_deref())));
            let comments = report(
                &mut warnings,
                ("EcsExpressService", &name),
                read.notes,
                read::express_differences(&read.spec, x),
            );
            let refs = vec![("clusterRef", reference(&cluster_object))];
            let spec = spec_yaml(&read.spec, "serviceName", refs, opts)?;
            docs.push(Document {
                comments,
                manifest: manifest("EcsExpressService", &name, spec, opts),
            });
        }
    }

    let mut yaml = format!(
        "# ecs-operator export, region {}: {} object(s). Every object adopts its AWS resource\n\
         # (adoptionPolicy: Adopt); apply with `kubectl apply --server-side -f`.\n",
        estate.region,
        docs.len()
    );
    for doc in docs {
        yaml.push_str("---\n");
        for line in doc.comments.iter().flat_map(|c| wrap(c, COMMENT_WIDTH)) {
            yaml.push_str(&format!("# {line}\n"));
        }
        yaml.push_str(&serde_yaml::to_string(&doc.manifest)?);
    }
    Ok(Export { yaml, warnings })
}

fn ecs_tags(tags: Option<&[ecs::Tag]>) -> impl Iterator<Item = (&str, &str)> {
    tags.into_iter()
        .flatten()
        .filter_map(|t| Some((t.key.as_deref()?, t.value.as_deref().unwrap_or_default())))
}

/// A note when the resource already belongs to an object (exported from a managed estate).
fn owned_by<'a>(mut tags: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let (_, owner) = tags.find(|(k, _)| *k == OWNER_TAG)?;
    Some(format!(
        "already owned by {owner} (tag {OWNER_TAG}): adopting it as another object is refused \
         (OwnedByAnother) while that object exists"
    ))
}

/// An object's notes and the changes applying it would still make: returned for its comment,
/// and added to the warnings (named after the object) for stderr.
fn report(
    warnings: &mut Vec<String>,
    (kind, name): (&str, &str),
    notes: Vec<String>,
    changes: Vec<String>,
) -> Vec<String> {
    let messages: Vec<String> = notes
        .into_iter()
        .chain(
            changes
                .into_iter()
                .map(|c| format!("applying it would still change AWS: {c}")),
        )
        .collect();
    warnings.extend(messages.iter().map(|m| format!("{kind} {name}: {m}")));
    messages
}

/// `text` in lines of at most `width` characters (longer words stay whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines
            .last_mut()
            .filter(|l| l.len() + 1 + word.len() <= width || l.is_empty());
        match line {
            Some(l) => {
                if !l.is_empty() {
                    l.push(' ');
                }
                l.push_str(word);
            }
            None => lines.push(word.to_string()),
        }
    }
    lines
}

fn reference(name: &str) -> Yaml {
    let mut m = Mapping::new();
    m.insert("name".into(), name.into());
    Yaml::Mapping(m)
}

/// The spec in its field order with the policies first and `extra` fields (references) right
/// after `name_key`. Built from the serialised spec, so it needs no policy fields in the types.
fn spec_yaml(
    spec: &impl Serialize,
    name_key: &str,
    extra: Vec<(&str, Yaml)>,
    opts: &ExportOptions,
) -> Result<Mapping, ExportError> {
    let mut out = Mapping::new();
    out.insert("adoptionPolicy".into(), "Adopt".into());
    if let Some(policy) = &opts.deletion_policy {
        out.insert("deletionPolicy".into(), policy.as_str().into());
    }
    let mut extra = Some(extra);
    let serialized = serde_yaml::to_value(spec)?;
    for (key, value) in serialized.as_mapping().into_iter().flatten() {
        if out.contains_key(key) {
            continue;
        }
        out.insert(key.clone(), value.clone());
        if key.as_str() == Some(name_key) {
            for (k, v) in extra.take().into_iter().flatten() {
                out.insert(k.into(), v);
            }
        }
    }
    for (k, v) in extra.into_iter().flatten() {
        out.insert(k.into(), v);
    }
    Ok(out)
}

fn manifest(kind: &str, name: &str, spec: Mapping, opts: &ExportOptions) -> Yaml {
    let mut metadata = Mapping::new();
    metadata.insert("name".into(), name.into());
    if let Some(ns) = &opts.namespace {
        metadata.insert("namespace".into(), ns.as_str().into());
    }
    let mut m = Mapping::new();
    m.insert("apiVersion".into(), API_VERSION.into());
    m.insert("kind".into(), kind.into());
    m.insert("metadata".into(), Yaml::Mapping(metadata));
    m.insert("spec".into(), Yaml::Mapping(spec));
    Yaml::Mapping(m)
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecr::types as ecr;
    use pretty_assertions::assert_eq;
    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn object_names_are_dns_labels() {
        let long = "a".repeat(70);
        let cases = [
            ("web", "web"),
            ("Web_App", "web-app"),
            ("team/web.api", "team-web-api"),
            ("__x__y__", "x-y"),
            ("9lives", "9lives"),
            ("___", "fallback"),
            (long.as_str(), &long[..63]),
        ];
        for (aws, want) in cases {
            assert_eq!(object_name(aws, "fallback"), want, "{aws}");
        }
        let cut = format!("{}_b", "a".repeat(62));
        assert_eq!(object_name(&cut, "x"), "a".repeat(62), "no trailing dash");
    }

    #[test]
    fn names_never_collide() {
        let mut names = Names::default();
        assert_eq!(names.claim("web_app", None, "x"), "web-app");
        assert_eq!(names.claim("web-app", None, "x"), "web-app-2");
        assert_eq!(names.claim("WEB.APP", None, "x"), "web-app-3");
        let mut services = Names::default();
        assert_eq!(services.claim("api", Some("prod"), "x"), "api");
        assert_eq!(services.claim("api", Some("staging"), "x"), "api-staging");
        assert_eq!(services.claim("api", Some("staging"), "x"), "api-2");
        let mut long = Names::default();
        let name = "b".repeat(80);
        assert_eq!(long.claim(&name, None, "x").len(), 63);
        let second = long.claim(&name, None, "x");
        assert_eq!(second.len(), 63);
        assert!(second.ends_with("-2"), "{second}");
    }

    const CLUSTER_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod_main";

    fn td_arn(family: &str, revision: i32) -> String {
        format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}")
    }

    fn revision(family: &str, revision: i32, image: &str) -> Revision {
        let arn = td_arn(family, revision);
        let container = ecs::ContainerDefinition::builder()
            .name("web")
            .image(image)
            .memory(128)
            .cpu(0)
            .essential(true)
            .build();
        let aws_tags = vec![
            ecs::Tag::builder().key("team").value("web").build(),
            ecs::Tag::builder()
                .key("ecs.operator.dev/owner-uid")
                .value("old")
                .build(),
        ];
        Revision {
            arn: arn.clone(),
            family: family.into(),
            revision: i64::from(revision),
            active: true,
            tags: BTreeMap::new(),
            task_definition: ecs::TaskDefinition::builder()
                .task_definition_arn(arn)
                .family(family)
                .revision(revision)
                .status(ecs::TaskDefinitionStatus::Active)
                .network_mode(ecs::NetworkMode::Bridge)
                .requires_compatibilities(ecs::Compatibility::Ec2)
                .container_definitions(container)
                .build(),
            aws_tags,
        }
    }

    fn service(name: &str, task_definition: &str) -> ecs::Service {
        ecs::Service::builder()
            .service_name(name)
            .service_arn(format!(
                "arn:aws:ecs:us-east-1:123456789012:service/prod_main/{name}"
            ))
            .cluster_arn(CLUSTER_ARN)
            .status("ACTIVE")
            .desired_count(1)
            .launch_type(ecs::LaunchType::Ec2)
            .task_definition(task_definition)
            .scheduling_strategy(ecs::SchedulingStrategy::Replica)
            .tags(ecs::Tag::builder().key("app").value(name).build())
            .tags(
                ecs::Tag::builder()
                    .key("ecs.operator.dev/instance")
                    .value("default")
                    .build(),
            )
            .build()
    }

    /// An Express service in the cluster, its task definition ECS's own.
    fn express_service(name: &str) -> ecs::EcsExpressGatewayService {
        crate::aws::bridge::shape(
            json!({
                "serviceName": name,
                "serviceArn": format!("arn:aws:ecs:us-east-1:123456789012:service/prod_main/{name}"),
                "cluster": CLUSTER_ARN,
                "infrastructureRoleArn": "arn:aws:iam::123456789012:role/infra",
                "status": {"statusCode": "ACTIVE"},
                "activeConfigurations": [{
                    "taskDefinitionArn": td_arn(&format!("express-{name}"), 1),
                    "cpu": "256",
                    "primaryContainer": {"image": "nginx:1", "containerPort": 80},
                    "ingressPaths": [{"accessType": "PUBLIC",
                        "endpoint": format!("https://{name}.ecs.us-east-1.on.aws")}],
                }],
                "tags": [{"key": "app", "value": name}],
            }),
            ecs::EcsExpressGatewayService::deserialize,
        )
    }

    /// A cluster with a service on its family's latest revision and one on an older revision,
    /// one repository, and a family no service uses.
    fn estate() -> Estate {
        let (v1, v2, other) = (
            revision("web_app", 1, "nginx:1"),
            revision("web_app", 2, "nginx:2"),
            revision("batch", 4, "busybox"),
        );
        let repository = ecr::Repository::builder()
            .repository_name("team/web")
            .repository_arn("arn:aws:ecr:us-east-1:123456789012:repository/team/web")
            .registry_id("123456789012")
            .repository_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/web")
            .image_tag_mutability(ecr::ImageTagMutability::Immutable)
            .build();
        let tags = vec![
            ecr::Tag::builder()
                .key("team")
                .value("web")
                .build()
                .expect("tag"),
        ];
        Estate {
            region: "us-east-1".into(),
            repositories: vec![RepositoryState {
                repository,
                tags,
                lifecycle_policy_text: None,
                repository_policy_text: None,
            }],
            clusters: vec![ClusterState {
                cluster: ecs::Cluster::builder()
                    .cluster_name("prod_main")
                    .cluster_arn(CLUSTER_ARN)
                    .status("ACTIVE")
                    .tags(ecs::Tag::builder().key("env").value("prod").build())
                    .build(),
                services: vec![
                    {
                        // Exported from an estate another object already manages.
                        let mut web = service("web", &td_arn("web_app", 2));
                        web.tags.get_or_insert_default().push(
                            ecs::Tag::builder()
                                .key("ecs.operator.dev/owner")
                                .value("elsewhere/web")
                                .build(),
                        );
                        web
                    },
                    service("web_old", &td_arn("web_app", 1)),
                ],
                express: vec![express_service("hello")],
            }],
            revisions: [
                (v1.arn.clone(), v1),
                (v2.arn.clone(), v2),
                (other.arn.clone(), other),
            ]
            .into(),
            latest: [
                ("web_app".to_string(), td_arn("web_app", 2)),
                ("batch".to_string(), td_arn("batch", 4)),
            ]
            .into(),
            families: BTreeSet::new(),
            gateways: Vec::new(),
            unread: Vec::new(),
        }
    }

    fn gateway() -> read::GatewayState {
        use aws_sdk_ecs::types::{Gateway, GatewayClusterAssociationSummary};
        let gateway = crate::aws::bridge::shape(
            json!({"gatewayArn": "arn:aws:ecs:us-east-1:123456789012:gateway/edge_gw",
                   "name": "edge_gw", "status": "ACTIVE", "accessType": "PUBLIC",
                   "infrastructureRoleArn": "arn:aws:iam::123456789012:role/gw",
                   "deletionProtection": true, "propagateTags": "GATEWAY",
                   "configuration": {"hostSharedAlb": {"scheme": "internet-facing", "port": 443,
                       "protocol": "HTTPS", "maxAlbCount": 2, "currentAlbCount": 1,
                       "httpDesync": "defensive",
                       "networkConfiguration": {"ipAddressType": "dualstack"}}},
                   "tags": [{"key": "team", "value": "edge"}]}),
            Gateway::deserialize,
        );
        let association = |cluster: &str, status: &str| {
            crate::aws::bridge::shape(
                json!({"gatewayArn": "arn:aws:ecs:us-east-1:123456789012:gateway/edge_gw",
                       "clusterArn": cluster, "status": status}),
                GatewayClusterAssociationSummary::deserialize,
            )
        };
        read::GatewayState {
            gateway,
            associations: vec![
                association(CLUSTER_ARN, "ACTIVE"),
                association(
                    "arn:aws:ecs:us-east-1:123456789012:cluster/legacy",
                    "ACTIVE",
                ),
                association(
                    "arn:aws:ecs:us-east-1:123456789012:cluster/gone",
                    "DISASSOCIATING",
                ),
            ],
        }
    }

    #[test]
    fn exports_a_gateway_with_references_to_exported_clusters() {
        let mut estate = estate();
        estate.gateways = vec![gateway()];
        estate.unread = vec!["gateways of another region are not exported".into()];
        let export = assemble(&estate, &ExportOptions::default()).expect("assembles");
        let docs = documents(&export.yaml);
        let gw = docs
            .iter()
            .position(|d| d["kind"] == "EcsGateway")
            .expect("an EcsGateway");
        // Right after the clusters it references.
        assert_eq!(docs[gw - 1]["kind"], "EcsCluster");
        assert_eq!(docs[gw]["metadata"]["name"], "edge-gw");
        assert_eq!(
            docs[gw]["spec"],
            json!({"adoptionPolicy": "Adopt", "name": "edge_gw",
                   "clusterRefs": [{"name": "prod-main"}],
                   "infrastructureRoleArn": "arn:aws:iam::123456789012:role/gw",
                   "deletionProtection": true,
                   "configuration": {"hostSharedAlb": {"scheme": "internet-facing", "port": 443,
                       "protocol": "HTTPS", "maxAlbCount": 2, "httpDesync": "defensive",
                       "networkConfiguration": {"ipAddressType": "dualstack"}}},
                   "propagateTags": "GATEWAY",
                   "clusters": ["arn:aws:ecs:us-east-1:123456789012:cluster/legacy"],
                   "tags": [{"key": "team", "value": "edge"}]})
        );
        let typed = serde_json::from_value::<crate::api::EcsGateway>(docs[gw].clone());
        assert!(typed.is_ok(), "{typed:?}");
        // Nothing left to change; what could not be read is a warning.
        assert!(
            !export.warnings.iter().any(|w| w.starts_with("EcsGateway")),
            "{:?}",
            export.warnings
        );
        assert_eq!(
            export.warnings[0],
            "gateways of another region are not exported"
        );
    }

    fn documents(yaml: &str) -> Vec<Value> {
        serde_yaml::Deserializer::from_str(yaml)
            .map(|doc| Value::deserialize(doc).expect("a YAML document"))
            .collect()
    }

    #[test]
    fn assembles_adopting_manifests_with_references() {
        let export = assemble(&estate(), &ExportOptions::default()).expect("assembles");
        let docs = documents(&export.yaml);
        let kinds: Vec<(&str, &str)> = docs
            .iter()
            .map(|d| {
                (
                    d["kind"].as_str().unwrap_or_default(),
                    d["metadata"]["name"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("EcrRepository", "team-web"),
                ("EcsCluster", "prod-main"),
                ("TaskDefinition", "web-app"),
                ("EcsService", "web"),
                ("EcsService", "web-old"),
                ("EcsExpressService", "hello"),
            ]
        );
        for doc in &docs {
            assert_eq!(doc["apiVersion"], API_VERSION);
            assert_eq!(doc["spec"]["adoptionPolicy"], "Adopt", "{doc}");
            assert!(doc["metadata"].get("namespace").is_none());
        }
        assert_eq!(
            docs[2]["spec"],
            json!({"adoptionPolicy": "Adopt", "family": "web_app", "requiresCompatibilities": ["EC2"],
                   "containerDefinitions": [{"name": "web", "image": "nginx:2", "memory": 128}],
                   "tags": [{"key": "team", "value": "web"}]})
        );
        assert_eq!(
            docs[3]["spec"],
            json!({"adoptionPolicy": "Adopt", "serviceName": "web", "clusterRef": {"name": "prod-main"},
                   "taskDefinitionRef": {"name": "web-app"}, "desiredCount": 1, "launchType": "EC2",
                   "tags": [{"key": "app", "value": "web"}]})
        );
        assert_eq!(docs[4]["spec"]["taskDefinition"], td_arn("web_app", 1));
        // The Express service: its cluster by reference, its managed task definition left out.
        assert_eq!(
            docs[5]["spec"],
            json!({"adoptionPolicy": "Adopt", "serviceName": "hello", "clusterRef": {"name": "prod-main"},
                   "infrastructureRoleArn": "arn:aws:iam::123456789012:role/infra",
                   "primaryContainer": {"image": "nginx:1", "containerPort": 80}, "cpu": "256",
                   "tags": [{"key": "app", "value": "hello"}]})
        );
        assert!(docs[4]["spec"].get("taskDefinitionRef").is_none());
        // Exact AWS names stay in the spec.
        assert_eq!(docs[0]["spec"]["repositoryName"], "team/web");
        assert_eq!(docs[1]["spec"]["clusterName"], "prod_main");
        // Why the old-revision service is pinned: in the stream and on stderr.
        assert!(
            export
                .yaml
                .contains("# it runs web_app:1, not the family's latest ACTIVE revision (2)"),
            "{}",
            export.yaml
        );
        assert_eq!(export.warnings.len(), 2, "{:?}", export.warnings);
        assert!(
            export.warnings[0].starts_with("EcsService web: already owned by elsewhere/web"),
            "{:?}",
            export.warnings
        );
        assert!(export.warnings[1].starts_with("EcsService web-old: it runs web_app:1"));
        assert!(export.yaml.contains("# already owned by elsewhere/web"));
        for noise in ["key: ecs.operator.dev", "null", "essential", "cpu: 0"] {
            assert!(!export.yaml.contains(noise), "{noise}:\n{}", export.yaml);
        }
        // Policies first, then the AWS name, then the references.
        let web_old = export
            .yaml
            .split("---\n")
            .find(|d| d.contains("name: web-old"))
            .unwrap_or_default();
        let keys: Vec<&str> = web_old
            .lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
            .filter_map(|l| l.trim().split(':').next())
            .collect();
        assert_eq!(
            &keys[..5],
            [
                "name",
                "adoptionPolicy",
                "serviceName",
                "clusterRef",
                "taskDefinition"
            ],
            "{web_old}"
        );
        // Every document is a valid object of its kind.
        let typed: Result<Vec<()>, serde_yaml::Error> = export
            .yaml
            .split("\n---\n")
            .skip(1)
            .map(
                |d| match serde_yaml::from_str::<Value>(d)?["kind"].as_str() {
                    Some("EcrRepository") => {
                        serde_yaml::from_str::<crate::api::EcrRepository>(d).map(drop)
                    }
                    Some("EcsCluster") => {
                        serde_yaml::from_str::<crate::api::EcsCluster>(d).map(drop)
                    }
                    Some("TaskDefinition") => {
                        serde_yaml::from_str::<crate::api::TaskDefinition>(d).map(drop)
                    }
                    Some("EcsExpressService") => {
                        serde_yaml::from_str::<crate::api::EcsExpressService>(d).map(drop)
                    }
                    _ => serde_yaml::from_str::<crate::api::EcsService>(d).map(drop),
                },
            )
            .collect();
        assert!(typed.is_ok(), "{typed:?}");
    }

    #[test]
    fn options_add_families_namespace_and_deletion_policy() {
        let mut estate = estate();
        estate.families = ["batch".to_string()].into();
        let opts = ExportOptions {
            namespace: Some("apps".into()),
            deletion_policy: Some("Retain".into()),
            ..Default::default()
        };
        let docs = documents(&assemble(&estate, &opts).expect("assembles").yaml);
        let names: Vec<&str> = docs
            .iter()
            .filter(|d| d["kind"] == "TaskDefinition")
            .filter_map(|d| d["metadata"]["name"].as_str())
            .collect();
        assert_eq!(names, ["batch", "web-app"]);
        for doc in &docs {
            assert_eq!(doc["metadata"]["namespace"], "apps");
            assert_eq!(doc["spec"]["deletionPolicy"], "Retain");
        }
    }

    #[test]
    fn service_whose_revision_is_unknown_keeps_its_task_definition() {
        let mut estate = estate();
        estate.revisions.clear();
        estate.latest.clear();
        let export = assemble(&estate, &ExportOptions::default()).expect("assembles");
        let docs = documents(&export.yaml);
        assert!(docs.iter().all(|d| d["kind"] != "TaskDefinition"));
        let web = docs
            .iter()
            .find(|d| d["metadata"]["name"] == "web")
            .expect("service exported");
        assert_eq!(web["spec"]["taskDefinition"], td_arn("web_app", 2));
        assert_eq!(export.warnings.len(), 3, "{:?}", export.warnings);
    }

    #[test]
    fn comments_wrap() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            ["averyveryverylongword", "x"]
        );
        assert_eq!(wrap("", 5), [""]);
    }
}
