//! The references kinds share: the cluster a spec names (`cluster` or `clusterRef`) and the
//! image an `imageRef` stands for. The generic lookup is [`crate::engine::references`].

use kube::Api;

use crate::api::common::{LocalReference, READY, find_condition};
use crate::api::ecr_repository::EcrRepository;
use crate::api::ecs_cluster::EcsCluster;
use crate::api::task_definition::ImageRef;
use crate::engine::Error;
use crate::engine::references::resolve_ref;

/// The cluster ECS uses when a request names none.
pub const DEFAULT_CLUSTER: &str = "default";

/// The cluster a spec names: `cluster` as written, else the ARN of the EcsCluster `clusterRef`
/// names once it is Ready (`ReferenceNotReady` until then; `ReferenceInAnotherShard` when this
/// shard does not watch it), else ECS's `default`.
pub async fn cluster(
    kube: &kube::Client,
    ns: &str,
    cluster: Option<&String>,
    cluster_ref: Option<&LocalReference>,
) -> Result<String, Error> {
    Ok(match (cluster, cluster_ref) {
        (Some(c), _) => c.clone(),
        (None, Some(r)) => resolve_ref::<EcsCluster>(kube, ns, &r.name).await?,
        (None, None) => DEFAULT_CLUSTER.to_string(),
    })
}

/// The image an `imageRef` stands for: the EcrRepository's `repositoryUri` once it is Ready,
/// with the digest or tag (`ReferenceInAnotherShard` when this shard does not watch it). `what` names the referencing field in messages (e.g. `container
/// web`).
pub async fn image(
    kube: &kube::Client,
    ns: &str,
    what: &str,
    r: &ImageRef,
) -> Result<String, Error> {
    let repos: Api<EcrRepository> = Api::namespaced(kube.clone(), ns);
    let name = &r.repository_ref.name;
    let repo = repos.get_opt(name).await?.ok_or_else(|| {
        Error::ReferenceNotReady(format!(
            "{what}: EcrRepository {name} does not exist in namespace {ns}"
        ))
    })?;
    crate::engine::shards::check_reference(
        crate::engine::shards::scope(),
        &format!("{what}: EcrRepository {name}"),
        repo.metadata.labels.as_ref(),
    )?;
    let status = repo.status.as_ref();
    let ready = find_condition(
        status.map(|s| s.conditions.as_slice()).unwrap_or_default(),
        READY,
    )
    .is_some_and(|c| c.is_true());
    match (ready, status.and_then(|s| s.repository_uri.as_deref())) {
        (true, Some(uri)) => Ok(image_name(uri, r)),
        _ => Err(Error::ReferenceNotReady(format!(
            "{what}: EcrRepository {name} is not Ready yet; the image resolves once it is"
        ))),
    }
}

/// `uri@digest`, else `uri:tag`, else `uri` (ECS pulls `latest`).
fn image_name(uri: &str, r: &ImageRef) -> String {
    match (&r.digest, &r.tag) {
        (Some(digest), _) => format!("{uri}@{digest}"),
        (None, Some(tag)) => format!("{uri}:{tag}"),
        (None, None) => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_name_prefers_digest_then_tag() {
        let uri = "1.dkr.ecr.us-east-1.amazonaws.com/web";
        let digest = format!("sha256:{}", "a".repeat(64));
        let cases = [
            (None, None, uri.to_string()),
            (Some("v1"), None, format!("{uri}:v1")),
            (None, Some(digest.as_str()), format!("{uri}@{digest}")),
            (Some("v1"), Some(digest.as_str()), format!("{uri}@{digest}")),
        ];
        for (tag, digest, want) in cases {
            let r = ImageRef {
                repository_ref: LocalReference {
                    name: "web".into(),
                    namespace: None,
                },
                tag: tag.map(str::to_string),
                digest: digest.map(str::to_string),
            };
            assert_eq!(image_name(uri, &r), want, "{tag:?} {digest:?}");
        }
    }
}
