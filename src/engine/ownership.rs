//! Who owns an AWS resource, and what the adoption policy allows. Pure: the tags an AWS resource
//! carries decide; the driver does the I/O (reading tags, looking up the owning object).

use std::collections::BTreeMap;

use crate::api::common::AdoptionPolicy;
use crate::engine::conditions::reason;

pub use crate::aws::tags::{INSTANCE_TAG, OWNER_TAG, OWNER_UID_TAG};

/// One object's identity as an owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `namespace/name`.
    pub owner: String,
    pub uid: String,
    pub instance: String,
}

impl Identity {
    pub fn new(namespace: &str, name: &str, uid: &str, instance: &str) -> Self {
        Self {
            owner: format!("{namespace}/{name}"),
            uid: uid.to_string(),
            instance: instance.to_string(),
        }
    }

    /// The identity a set of ownership tags names (as [`Identity::tags`] writes them); `None`
    /// when they name no owner (an observe-only object owns nothing).
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Option<Self> {
        let get = |key: &str| tags.get(key).cloned().unwrap_or_default();
        let me = Self {
            owner: get(OWNER_TAG),
            uid: get(OWNER_UID_TAG),
            instance: get(INSTANCE_TAG),
        };
        (!me.owner.is_empty() || !me.uid.is_empty()).then_some(me)
    }

    /// The tags every AWS resource this object creates or adopts carries.
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (OWNER_TAG.to_string(), self.owner.clone()),
            (OWNER_UID_TAG.to_string(), self.uid.clone()),
            (INSTANCE_TAG.to_string(), self.instance.clone()),
        ])
    }
}

/// What the tags of an existing AWS resource say about its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This object owns it (same UID, or same namespace/name: the object was re-created).
    Ours,
    /// No owner tags: created outside the operator.
    Unowned,
    /// Another object of this operator instance claims it; whether that object still exists
    /// decides between a conflict and an orphan.
    Foreign { owner: String, uid: String },
    /// Managed by another operator instance (another cluster, or another `--instance-id`).
    OtherInstance { instance: String, owner: String },
}

/// Reads the owner tags of an AWS resource.
pub fn claim(tags: &BTreeMap<String, String>, me: &Identity) -> Claim {
    let owner = tags.get(OWNER_TAG).cloned().unwrap_or_default();
    let uid = tags.get(OWNER_UID_TAG).cloned().unwrap_or_default();
    if owner.is_empty() && uid.is_empty() {
        return Claim::Unowned;
    }
    // Resources tagged before instance ids existed count as this instance's.
    if let Some(instance) = tags.get(INSTANCE_TAG)
        && instance != &me.instance
    {
        return Claim::OtherInstance {
            instance: instance.clone(),
            owner,
        };
    }
    if uid == me.uid || owner == me.owner {
        return Claim::Ours;
    }
    Claim::Foreign { owner, uid }
}

/// True when the tags say this object owns the resource.
pub fn is_ours(tags: &BTreeMap<String, String>, me: &Identity) -> bool {
    claim(tags, me) == Claim::Ours
}

/// Next step for an object whose AWS resource was looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Absent and creating is allowed.
    Create,
    /// Ours: converge to the spec.
    Converge,
    /// Not ours yet, and the adoption policy allows taking it: converge, which adds the owner tags.
    Adopt,
    /// Leave AWS untouched and report why.
    Refuse {
        reason: &'static str,
        message: String,
    },
}

/// Decides create / converge / adopt / refuse. `owner_alive` is whether the object a `Foreign`
/// claim names still exists with that UID (unknown counts as alive: never take by guess).
pub fn plan(
    existing: Option<&Claim>,
    owner_alive: bool,
    adoption: AdoptionPolicy,
    aws_name: &str,
) -> Plan {
    let how_to_adopt = "to take it over set spec.adoptionPolicy: Adopt (or AdoptOrCreate); \
                        AWS was not changed";
    match existing {
        None if adoption == AdoptionPolicy::Adopt => Plan::Refuse {
            reason: reason::NOT_FOUND,
            message: format!(
                "spec.adoptionPolicy is Adopt but {aws_name} does not exist in AWS; nothing was \
                 created (use AdoptOrCreate to create it when missing)"
            ),
        },
        None => Plan::Create,
        Some(Claim::Ours) => Plan::Converge,
        Some(Claim::OtherInstance { instance, owner }) => Plan::Refuse {
            reason: reason::OWNED_BY_ANOTHER,
            message: format!(
                "{aws_name} is managed by another ecs-operator instance ({instance:?}, object \
                 {owner}); AWS was not changed"
            ),
        },
        Some(Claim::Foreign { owner, .. }) if owner_alive => Plan::Refuse {
            reason: reason::OWNED_BY_ANOTHER,
            message: format!(
                "{aws_name} is owned by {owner}; two objects cannot manage one AWS resource, and \
                 AWS was not changed"
            ),
        },
        Some(claim) => match adoption {
            AdoptionPolicy::Adopt | AdoptionPolicy::AdoptOrCreate => Plan::Adopt,
            AdoptionPolicy::Never => Plan::Refuse {
                reason: reason::ALREADY_EXISTS,
                message: match claim {
                    Claim::Foreign { owner, .. } => format!(
                        "{aws_name} already exists and was owned by {owner}, which no longer \
                         exists; {how_to_adopt}"
                    ),
                    _ => format!(
                        "{aws_name} already exists and is not managed by ecs-operator; \
                         {how_to_adopt}"
                    ),
                },
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Identity {
        Identity::new("team-a", "web", "uid-1", "default")
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn claim_table() {
        let cases = [
            ("no tags", tags(&[]), Claim::Unowned),
            ("user tags only", tags(&[("team", "a")]), Claim::Unowned),
            ("our own tags", me().tags(), Claim::Ours),
            (
                "same uid, no instance tag (older revision)",
                tags(&[(OWNER_UID_TAG, "uid-1"), (OWNER_TAG, "team-a/web")]),
                Claim::Ours,
            ),
            (
                "re-created object: same namespace/name, new uid",
                tags(&[
                    (OWNER_UID_TAG, "uid-0"),
                    (OWNER_TAG, "team-a/web"),
                    (INSTANCE_TAG, "default"),
                ]),
                Claim::Ours,
            ),
            (
                "another object",
                tags(&[
                    (OWNER_UID_TAG, "uid-2"),
                    (OWNER_TAG, "team-b/web"),
                    (INSTANCE_TAG, "default"),
                ]),
                Claim::Foreign {
                    owner: "team-b/web".into(),
                    uid: "uid-2".into(),
                },
            ),
            (
                "another operator instance, even with our name",
                tags(&[
                    (OWNER_UID_TAG, "uid-9"),
                    (OWNER_TAG, "team-a/web"),
                    (INSTANCE_TAG, "prod-eu"),
                ]),
                Claim::OtherInstance {
                    instance: "prod-eu".into(),
                    owner: "team-a/web".into(),
                },
            ),
        ];
        for (name, tags, want) in cases {
            assert_eq!(claim(&tags, &me()), want, "{name}");
        }
    }

    #[test]
    fn plan_table() {
        use AdoptionPolicy::*;
        let foreign = Claim::Foreign {
            owner: "team-b/web".into(),
            uid: "uid-2".into(),
        };
        let other = Claim::OtherInstance {
            instance: "x".into(),
            owner: "a/b".into(),
        };
        let refuse = |r: &'static str| Some(r);
        type Case<'a> = (
            &'a str,
            Option<&'a Claim>,
            bool,
            AdoptionPolicy,
            Option<&'a str>,
            Plan,
        );
        let cases: Vec<Case> = vec![
            ("absent, Never", None, false, Never, None, Plan::Create),
            (
                "absent, AdoptOrCreate",
                None,
                false,
                AdoptOrCreate,
                None,
                Plan::Create,
            ),
            (
                "absent, Adopt",
                None,
                false,
                Adopt,
                refuse(reason::NOT_FOUND),
                Plan::Create,
            ),
            (
                "ours",
                Some(&Claim::Ours),
                false,
                Never,
                None,
                Plan::Converge,
            ),
            (
                "unowned, Never",
                Some(&Claim::Unowned),
                false,
                Never,
                refuse(reason::ALREADY_EXISTS),
                Plan::Create,
            ),
            (
                "unowned, Adopt",
                Some(&Claim::Unowned),
                false,
                Adopt,
                None,
                Plan::Adopt,
            ),
            (
                "unowned, AdoptOrCreate",
                Some(&Claim::Unowned),
                false,
                AdoptOrCreate,
                None,
                Plan::Adopt,
            ),
            (
                "owned by a live object, even with Adopt",
                Some(&foreign),
                true,
                Adopt,
                refuse(reason::OWNED_BY_ANOTHER),
                Plan::Create,
            ),
            (
                "orphan, Never",
                Some(&foreign),
                false,
                Never,
                refuse(reason::ALREADY_EXISTS),
                Plan::Create,
            ),
            (
                "orphan, Adopt",
                Some(&foreign),
                false,
                Adopt,
                None,
                Plan::Adopt,
            ),
            (
                "other instance, Adopt",
                Some(&other),
                false,
                Adopt,
                refuse(reason::OWNED_BY_ANOTHER),
                Plan::Create,
            ),
        ];
        for (name, existing, alive, adoption, refused, want) in cases {
            let got = plan(existing, alive, adoption, "repository r");
            match (refused, &got) {
                (Some(r), Plan::Refuse { reason, message }) => {
                    assert_eq!(*reason, r, "{name}");
                    assert!(message.contains("repository r"), "{name}: {message}");
                    assert!(message.contains("not"), "{name}: {message}");
                }
                (Some(r), other) => panic!("{name}: want refuse {r}, got {other:?}"),
                (None, got) => assert_eq!(got, &want, "{name}"),
            }
        }
    }
}
