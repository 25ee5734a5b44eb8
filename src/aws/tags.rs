//! Tags, the same for every kind: the pure difference between the tags a resource must carry
//! and the ones it has, applied through each service's TagResource / UntagResource calls
//! (`ecs_tags.rs`, `ecr.rs`). The driver
//! applies them for every kind that names its [`TagTarget`].

use std::collections::BTreeMap;

use super::errors::AwsError;
use super::{AwsClients, ecs_tags};

/// Whose tag API a resource's tags go through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagService {
    Ecs,
    Ecr,
}

/// Where a resource's tags live: its service and ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagTarget {
    pub service: TagService,
    pub arn: String,
}

/// Tags to set (new or changed values) and keys to remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagChanges {
    pub add: BTreeMap<String, String>,
    pub remove: Vec<String>,
}

impl TagChanges {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// One description per call, named after the spec field.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.add.is_empty() {
            let keys: Vec<&str> = self.add.keys().map(String::as_str).collect();
            out.push(format!("tags (set {})", keys.join(",")));
        }
        if !self.remove.is_empty() {
            out.push(format!("tags (remove {})", self.remove.join(",")));
        }
        out
    }
}

/// What must change for `observed` to equal `desired`. `aws:` tags belong to AWS
/// (CloudFormation, ...) and cannot be removed, so they are never asked to go. Pure.
pub fn diff(desired: &BTreeMap<String, String>, observed: &BTreeMap<String, String>) -> TagChanges {
    TagChanges {
        add: desired
            .iter()
            .filter(|(k, v)| observed.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        remove: observed
            .keys()
            .filter(|k| !desired.contains_key(*k) && !k.starts_with("aws:"))
            .cloned()
            .collect(),
    }
}

/// Applies `changes` with the target service's tag calls (set first, then remove).
pub async fn apply(
    aws: &AwsClients,
    target: &TagTarget,
    changes: &TagChanges,
) -> Result<(), AwsError> {
    let arn = target.arn.as_str();
    if arn.is_empty() {
        return Err(AwsError::terminal(
            "TagResource",
            "MissingArn",
            "the resource ARN is not known yet",
        ));
    }
    match target.service {
        TagService::Ecs => ecs_tags::apply(&aws.ecs, arn, changes).await,
        TagService::Ecr => {
            crate::kinds::ecr_repository::mapping::apply_tags(&aws.ecr, arn, changes).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn diff_table() {
        let cases = [
            (
                "equal",
                map(&[("a", "1")]),
                map(&[("a", "1")]),
                map(&[]),
                vec![],
            ),
            (
                "added, changed and removed",
                map(&[("team", "a"), ("env", "prod")]),
                map(&[("team", "b"), ("old", "x")]),
                map(&[("env", "prod"), ("team", "a")]),
                vec!["old"],
            ),
            (
                "aws: tags stay",
                map(&[]),
                map(&[("aws:cloudformation:stack-name", "s")]),
                map(&[]),
                vec![],
            ),
        ];
        for (name, desired, observed, add, remove) in cases {
            let got = diff(&desired, &observed);
            assert_eq!(got.add, add, "{name}");
            assert_eq!(got.remove, remove, "{name}");
        }
        let both = diff(&map(&[("a", "1")]), &map(&[("b", "2")]));
        assert_eq!(both.describe(), ["tags (set a)", "tags (remove b)"]);
        assert!(diff(&map(&[]), &map(&[])).is_empty());
    }
}
