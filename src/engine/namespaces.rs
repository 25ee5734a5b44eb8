//! Per-namespace settings from namespace annotations (default deletion policy, AWS role), read
//! with a short cache so a reconcile costs no extra API call in steady state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

use super::Error;
use crate::api::common::{DELETION_POLICY_ANNOTATION, DeletionPolicy, ROLE_ARN_ANNOTATION};

/// What a namespace's annotations say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceSettings {
    pub deletion_policy: Option<DeletionPolicy>,
    pub role_arn: Option<String>,
}

/// Parses the annotations. Pure; a malformed value is an error naming the annotation, never a
/// silent default (a wrong role would run a tenant under the operator's own identity).
pub fn parse(
    namespace: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<NamespaceSettings, String> {
    let deletion_policy = annotations
        .get(DELETION_POLICY_ANNOTATION)
        .map(|v| v.trim().parse::<DeletionPolicy>())
        .transpose()
        .map_err(|e| {
            format!("namespace {namespace}: annotation {DELETION_POLICY_ANNOTATION}: {e}")
        })?;
    let role_arn = annotations
        .get(ROLE_ARN_ANNOTATION)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    if let Some(arn) = &role_arn
        && !(arn.starts_with("arn:aws") && arn.contains(":iam::") && arn.contains(":role/"))
    {
        return Err(format!(
            "namespace {namespace}: annotation {ROLE_ARN_ANNOTATION} must be an IAM role ARN \
             (arn:aws:iam::ACCOUNT:role/NAME), not {arn:?}"
        ));
    }
    Ok(NamespaceSettings {
        deletion_policy,
        role_arn,
    })
}

/// Cached reader of namespace settings.
pub struct Namespaces {
    client: kube::Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, NamespaceSettings)>>,
}

impl std::fmt::Debug for Namespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespaces")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl Namespaces {
    pub fn new(client: kube::Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn get(&self, namespace: &str) -> Result<NamespaceSettings, Error> {
        if let Some((at, s)) = self.lock().get(namespace)
            && at.elapsed() < self.ttl
        {
            return Ok(s.clone());
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        // Fail closed: without the annotations we cannot know which AWS identity to use.
        let ns = api.get_opt(namespace).await?;
        let annotations = ns.and_then(|n| n.metadata.annotations).unwrap_or_default();
        // The namespace is wrong, not the object: retried (slowly) until the annotation is fixed.
        let settings = parse(namespace, &annotations).map_err(|message| Error::Environment {
            reason: super::conditions::reason::INVALID_NAMESPACE_ANNOTATION,
            message,
        })?;
        self.lock()
            .insert(namespace.to_string(), (Instant::now(), settings.clone()));
        Ok(settings)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, NamespaceSettings)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let role = "arn:aws:iam::111111111111:role/tenant-a";
        type Case<'a> = (
            &'a str,
            Vec<(&'a str, &'a str)>,
            Result<NamespaceSettings, &'a str>,
        );
        let cases: Vec<Case> = vec![
            ("none", vec![], Ok(NamespaceSettings::default())),
            (
                "retain",
                vec![(DELETION_POLICY_ANNOTATION, "Retain")],
                Ok(NamespaceSettings {
                    deletion_policy: Some(DeletionPolicy::Retain),
                    role_arn: None,
                }),
            ),
            (
                "role",
                vec![(ROLE_ARN_ANNOTATION, role)],
                Ok(NamespaceSettings {
                    deletion_policy: None,
                    role_arn: Some(role.into()),
                }),
            ),
            (
                "bad policy",
                vec![(DELETION_POLICY_ANNOTATION, "retain")],
                Err("Delete or Retain"),
            ),
            (
                "bad role",
                vec![(ROLE_ARN_ANNOTATION, "tenant-a")],
                Err("IAM role ARN"),
            ),
        ];
        for (name, annotations, want) in cases {
            let annotations = annotations
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            match (parse("ns", &annotations), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{name}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{name}: {got}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }
}
