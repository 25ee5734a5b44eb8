//! Per-namespace settings from namespace annotations (default deletion policy, AWS role), read
//! with a short cache so a reconcile costs no extra API call in steady state, and the operator's
//! own allow-list of which namespace may name which role (`--role-allow`). The decisions
//! ([`parse`], [`check_role`]) are pure; only [`Namespaces::get`] does I/O.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use globset::{GlobBuilder, GlobMatcher};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

use super::Error;
use super::conditions::reason;
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

/// The flag (and its environment variable) that sets the allow-list, as messages name it.
pub const ROLE_ALLOW_FLAG: &str = "--role-allow (ECS_OPERATOR_ROLE_ALLOW)";

/// One `--role-allow` rule, `NAMESPACE_GLOB=ROLE_ARN_GLOB`: namespaces matching the first glob
/// may name roles matching the second. Globs match the whole name, case-sensitively; `*` and `?`
/// do not cross `/`, so `role/ecs-team-*` does not match a role under a path (`role/**/x-*`
/// does). The namespace glob ends at the first `=` (namespace names hold none; role names may).
#[derive(Clone, Debug)]
pub struct RoleRule {
    text: String,
    namespaces: GlobMatcher,
    roles: GlobMatcher,
}

impl FromStr for RoleRule {
    type Err = String;

    fn from_str(rule: &str) -> Result<Self, String> {
        let usage = "expected NAMESPACE_GLOB=ROLE_ARN_GLOB, e.g. team-*=arn:aws:iam::123456789012:role/ecs-team-*";
        let (namespaces, roles) = rule
            .split_once('=')
            .map(|(n, r)| (n.trim(), r.trim()))
            .filter(|(n, r)| !n.is_empty() && !r.is_empty())
            .ok_or_else(|| format!("role rule {rule:?}: {usage}"))?;
        let glob = |pattern: &str| {
            GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| format!("role rule {rule:?}: {e}"))
        };
        Ok(Self {
            text: format!("{namespaces}={roles}"),
            namespaces: glob(namespaces)?,
            roles: glob(roles)?,
        })
    }
}

impl std::fmt::Display for RoleRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl RoleRule {
    /// Whether this rule lets `namespace` use `role`.
    pub fn allows(&self, namespace: &str, role: &str) -> bool {
        self.namespaces.is_match(namespace) && self.roles.is_match(role)
    }
}

/// Whether the namespace may use the role its settings name. Pure. No rules: every role is
/// allowed (the allow-list is off, as before it existed). A namespace that names no role is not
/// the allow-list's business: it runs under the operator's own identity either way.
pub fn check_role(
    rules: &[RoleRule],
    namespace: &str,
    settings: &NamespaceSettings,
) -> Result<(), String> {
    let Some(role) = settings.role_arn.as_deref() else {
        return Ok(());
    };
    if rules.is_empty() || rules.iter().any(|r| r.allows(namespace, role)) {
        return Ok(());
    }
    Err(format!(
        "namespace {namespace} names role {role} ({ROLE_ARN_ANNOTATION}), which no \
         {ROLE_ALLOW_FLAG} rule of the operator allows; the role was not assumed"
    ))
}

/// Cached reader of namespace settings.
pub struct Namespaces {
    client: kube::Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, NamespaceSettings)>>,
    /// `--role-allow`; empty: any role.
    role_allow: Vec<RoleRule>,
}

impl std::fmt::Debug for Namespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespaces")
            .field("ttl", &self.ttl)
            .field("role_allow", &self.role_allow)
            .finish()
    }
}

impl Namespaces {
    pub fn new(client: kube::Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
            role_allow: Vec::new(),
        }
    }

    /// Only the roles these rules allow a namespace may be used (see [`check_role`]).
    pub fn with_role_allow(mut self, rules: Vec<RoleRule>) -> Self {
        self.role_allow = rules;
        self
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
        // Before any AssumeRole: a role the operator's rules do not allow is never used.
        check_role(&self.role_allow, namespace, &settings).map_err(|message| {
            Error::Environment {
                reason: reason::ROLE_NOT_ALLOWED,
                message,
            }
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

    #[test]
    fn role_rule_parse_table() {
        let cases: Vec<(&str, Result<&str, &str>)> = vec![
            (
                "team-*=arn:aws:iam::*:role/ecs-team-*",
                Ok("team-*=arn:aws:iam::*:role/ecs-team-*"),
            ),
            (" a = arn:aws:iam::1:role/a ", Ok("a=arn:aws:iam::1:role/a")),
            // Role names may hold `=`; the namespace glob ends at the first one.
            ("a=arn:aws:iam::1:role/x=y", Ok("a=arn:aws:iam::1:role/x=y")),
            ("team-*", Err("NAMESPACE_GLOB=ROLE_ARN_GLOB")),
            (
                "=arn:aws:iam::1:role/a",
                Err("NAMESPACE_GLOB=ROLE_ARN_GLOB"),
            ),
            ("team-*=", Err("NAMESPACE_GLOB=ROLE_ARN_GLOB")),
            (
                "team-[=arn:aws:iam::1:role/a",
                Err("unclosed character class"),
            ),
            ("a=arn:aws:iam::1:role/{x", Err("unclosed alternate")),
        ];
        for (text, want) in cases {
            match (text.parse::<RoleRule>(), want) {
                (Ok(got), Ok(want)) => assert_eq!(got.to_string(), want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn role_allow_table() {
        let rules = |texts: &[&str]| -> Vec<RoleRule> {
            texts
                .iter()
                .map(|t| t.parse().unwrap_or_else(|e| panic!("{e}")))
                .collect()
        };
        let teams = rules(&[
            "team-*=arn:aws:iam::111111111111:role/ecs-team-*",
            "platform=arn:aws:iam::*:role/ecs-platform",
        ]);
        let none = rules(&[]);
        let a = "arn:aws:iam::111111111111:role/ecs-team-a";
        /// (case, rules, namespace, role, allowed)
        type Case<'a> = (&'a str, &'a [RoleRule], &'a str, Option<&'a str>, bool);
        let cases: Vec<Case> = vec![
            (
                "no rules: any role",
                &none,
                "anything",
                Some("arn:aws:iam::9:role/admin"),
                true,
            ),
            ("no role named", &teams, "anything", None, true),
            ("first rule", &teams, "team-a", Some(a), true),
            (
                "second rule, any account",
                &teams,
                "platform",
                Some("arn:aws:iam::222222222222:role/ecs-platform"),
                true,
            ),
            ("namespace matches no rule", &teams, "other", Some(a), false),
            (
                "namespace glob is whole-name",
                &teams,
                "my-team-a",
                Some(a),
                false,
            ),
            (
                "role matches no rule",
                &teams,
                "team-a",
                Some("arn:aws:iam::111111111111:role/admin"),
                false,
            ),
            (
                "other account",
                &teams,
                "team-a",
                Some("arn:aws:iam::222222222222:role/ecs-team-a"),
                false,
            ),
            ("rules do not mix", &teams, "platform", Some(a), false),
            (
                "role glob is whole-name",
                &teams,
                "platform",
                Some("arn:aws:iam::2:role/ecs-platform-admin"),
                false,
            ),
            (
                "* does not cross /",
                &teams,
                "team-a",
                Some("arn:aws:iam::111111111111:role/ecs-team-/admin"),
                false,
            ),
            (
                "case-sensitive",
                &teams,
                "team-a",
                Some("arn:aws:iam::111111111111:role/ECS-TEAM-A"),
                false,
            ),
        ];
        for (name, rules, namespace, role, allowed) in cases {
            let settings = NamespaceSettings {
                deletion_policy: None,
                role_arn: role.map(str::to_string),
            };
            match check_role(rules, namespace, &settings) {
                Ok(()) => assert!(allowed, "{name}: allowed"),
                Err(message) => {
                    assert!(!allowed, "{name}: refused: {message}");
                    for part in [
                        namespace,
                        role.unwrap_or_default(),
                        "--role-allow",
                        ROLE_ARN_ANNOTATION,
                    ] {
                        assert!(message.contains(part), "{name}: {message} lacks {part}");
                    }
                }
            }
        }
    }
}
