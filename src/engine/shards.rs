//! Shards: several operator processes split the objects between them by the label
//! `ecs.operator.dev/shard=<name>` (Flux's `sharding.fluxcd.io/key` model). A process serves one
//! [`Scope`]: every object (no sharding), one shard's objects, or the objects no shard claims.
//! The scope becomes the label selector every watch sends to the API server, so a shard lists,
//! caches and is woken by its own objects only, and the name of its leader Lease, so each shard
//! has its own leader and standby.
//!
//! A reference into another shard ([`check_reference`]) is refused with `ReferenceInAnotherShard`:
//! this process does not watch that object, so a change to it would never wake the referencing
//! object. Pure, apart from the process-wide scope set once at startup ([`set_scope`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use super::Error;

/// The label that assigns an object to a shard.
pub const SHARD_LABEL: &str = "ecs.operator.dev/shard";

/// A shard name: a lowercase RFC 1123 label (it is a label value, and part of the Lease name
/// and, in the chart, of a Deployment's name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardName(String);

/// Why a shard configuration is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error(
        "invalid shard name {0:?}: use 1-63 lowercase letters, digits and '-', starting and ending \
         with a letter or digit (it becomes the label value {SHARD_LABEL}=<name> and part of the \
         Lease name)"
    )]
    InvalidName(String),
    #[error(
        "--shard {0} and --exclude-sharded exclude each other: a shard reconciles the objects \
         labelled {SHARD_LABEL}={0}; --exclude-sharded is for the one process that reconciles the \
         objects without that label"
    )]
    Conflict(String),
}

impl ShardName {
    pub fn parse(name: &str) -> Result<Self, ShardError> {
        let bytes = name.as_bytes();
        let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let valid = (1..=63).contains(&bytes.len())
            && edge(bytes.first())
            && edge(bytes.last())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if valid {
            Ok(Self(name.to_string()))
        } else {
            Err(ShardError::InvalidName(name.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ShardName {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ShardName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which objects this process reconciles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every object (no sharding): the default.
    #[default]
    All,
    /// The objects labelled `ecs.operator.dev/shard=<name>` (`--shard <name>`).
    Shard(ShardName),
    /// The objects without the shard label (`--exclude-sharded`): the main instance beside
    /// shards.
    Unsharded,
}

impl Scope {
    /// The scope `--shard` and `--exclude-sharded` ask for; both at once is an error.
    pub fn from_flags(shard: Option<ShardName>, exclude_sharded: bool) -> Result<Self, ShardError> {
        match (shard, exclude_sharded) {
            (Some(name), true) => Err(ShardError::Conflict(name.0)),
            (Some(name), false) => Ok(Scope::Shard(name)),
            (None, true) => Ok(Scope::Unsharded),
            (None, false) => Ok(Scope::All),
        }
    }

    /// The label selector every watch sends to the API server; `None` watches everything.
    pub fn label_selector(&self) -> Option<String> {
        match self {
            Scope::All => None,
            Scope::Shard(name) => Some(format!("{SHARD_LABEL}={name}")),
            Scope::Unsharded => Some(format!("!{SHARD_LABEL}")),
        }
    }

    /// The leader Lease of this scope: a shard's is `<base>-<shard>`, so each shard elects its
    /// own leader; the others keep `base`.
    pub fn lease_name(&self, base: &str) -> String {
        match self {
            Scope::Shard(name) => format!("{base}-{name}"),
            Scope::All | Scope::Unsharded => base.to_string(),
        }
    }

    /// Whether an object with these labels is in this scope (what the selector selects).
    pub fn contains(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let shard = labels.and_then(|l| l.get(SHARD_LABEL));
        match self {
            Scope::All => true,
            Scope::Shard(name) => shard.is_some_and(|s| s == name.as_str()),
            Scope::Unsharded => shard.is_none(),
        }
    }

    /// How messages name this scope.
    fn describe(&self) -> String {
        match self {
            Scope::All => "every shard".into(),
            Scope::Shard(name) => format!("shard {name}"),
            Scope::Unsharded => format!("no shard (no {SHARD_LABEL} label)"),
        }
    }
}

/// How messages name the shard of an object with these labels.
fn shard_of(labels: Option<&BTreeMap<String, String>>) -> String {
    match labels.and_then(|l| l.get(SHARD_LABEL)) {
        Some(name) => format!("shard {name}"),
        None => format!("no shard (no {SHARD_LABEL} label)"),
    }
}

/// `Ok` when `scope` watches the referenced object (`what`, e.g. `EcsCluster web`, with its
/// labels); otherwise `ReferenceInAnotherShard`, naming the reference and both shards. The
/// referencing object is in `scope` (the watch selected it), so "this object" is in `scope`.
pub fn check_reference(
    scope: &Scope,
    what: &str,
    labels: Option<&BTreeMap<String, String>>,
) -> Result<(), Error> {
    if scope.contains(labels) {
        return Ok(());
    }
    let theirs = shard_of(labels);
    let ours = scope.describe();
    Err(Error::ReferenceInAnotherShard(format!(
        "{what} is in {theirs}, this object in {ours}: this shard does not watch {what}, so its \
         changes would not reach this object; give both the same {SHARD_LABEL} label"
    )))
}

static SCOPE: OnceLock<Scope> = OnceLock::new();

/// Sets this process's scope; called once at startup, before any controller runs. A second
/// call is ignored (one process serves one scope).
pub fn set_scope(scope: Scope) {
    let _ = SCOPE.set(scope);
}

/// This process's scope: [`Scope::All`] until [`set_scope`] says otherwise.
pub fn scope() -> &'static Scope {
    static ALL: Scope = Scope::All;
    SCOPE.get().unwrap_or(&ALL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(name: &str) -> Scope {
        Scope::Shard(ShardName::parse(name).expect("valid"))
    }

    #[test]
    fn shard_names_are_lowercase_rfc1123_labels() {
        let long = "a".repeat(63);
        for ok in ["a", "shard-1", "0", "a-b-c", long.as_str()] {
            assert!(ShardName::parse(ok).is_ok(), "{ok:?} refused");
        }
        let too_long = "a".repeat(64);
        for bad in [
            "",
            "A",
            "-a",
            "a-",
            "a_b",
            "a.b",
            "a b",
            "a=b",
            "é",
            too_long.as_str(),
        ] {
            assert_eq!(
                ShardName::parse(bad),
                Err(ShardError::InvalidName(bad.to_string())),
                "{bad:?} accepted"
            );
        }
        let message = ShardError::InvalidName("A".into()).to_string();
        assert!(message.contains("lowercase"), "{message}");
    }

    /// `--shard`, `--exclude-sharded` -> the scope, its watch selector and its Lease name.
    #[test]
    fn scope_selector_and_lease_table() {
        let name = |n: &str| ShardName::parse(n).ok();
        let cases = [
            (None, false, None, "ecs-operator-leader"),
            (
                name("a"),
                false,
                Some("ecs.operator.dev/shard=a"),
                "ecs-operator-leader-a",
            ),
            (
                name("team-2"),
                false,
                Some("ecs.operator.dev/shard=team-2"),
                "ecs-operator-leader-team-2",
            ),
            (
                None,
                true,
                Some("!ecs.operator.dev/shard"),
                "ecs-operator-leader",
            ),
        ];
        for (shard, exclude, selector, lease) in cases {
            let scope = Scope::from_flags(shard.clone(), exclude).expect("valid flags");
            assert_eq!(
                scope.label_selector().as_deref(),
                selector,
                "{shard:?} {exclude}"
            );
            assert_eq!(
                scope.lease_name("ecs-operator-leader"),
                lease,
                "{shard:?} {exclude}"
            );
        }
        let err = Scope::from_flags(name("a"), true).expect_err("conflict");
        assert_eq!(err, ShardError::Conflict("a".into()));
        assert!(err.to_string().contains("--exclude-sharded"), "{err}");
    }

    /// What each scope selects agrees with the selector it sends: one shard label, or none.
    #[test]
    fn scopes_contain_what_their_selector_selects() {
        let labels = |shard: Option<&str>| -> BTreeMap<String, String> {
            let mut l = BTreeMap::from([("app".to_string(), "x".to_string())]);
            if let Some(s) = shard {
                l.insert(SHARD_LABEL.to_string(), s.to_string());
            }
            l
        };
        let (none, a, b) = (labels(None), labels(Some("a")), labels(Some("b")));
        let cases = [
            (Scope::All, [true, true, true, true]),
            (shard("a"), [false, false, true, false]),
            (Scope::Unsharded, [true, true, false, false]),
        ];
        for (scope, want) in cases {
            let got = [
                scope.contains(None),
                scope.contains(Some(&none)),
                scope.contains(Some(&a)),
                scope.contains(Some(&b)),
            ];
            assert_eq!(got, want, "{scope:?}");
        }
        // Every object is in exactly one of: the unsharded instance, shard a, shard b.
        for l in [&none, &a, &b] {
            let owners = [Scope::Unsharded, shard("a"), shard("b")]
                .iter()
                .filter(|s| s.contains(Some(l)))
                .count();
            assert_eq!(owners, 1, "{l:?}");
        }
    }

    /// A reference inside the scope passes; one outside is `ReferenceInAnotherShard`, a stable
    /// reason of the environment class (Stalled, retried slowly, healed by relabelling), naming
    /// the reference and both shards.
    #[test]
    fn references_across_shards_are_refused_naming_both_shards() {
        let labels = |shard: Option<&str>| -> BTreeMap<String, String> {
            shard
                .map(|s| BTreeMap::from([(SHARD_LABEL.to_string(), s.to_string())]))
                .unwrap_or_default()
        };
        let what = "EcsCluster web";
        // (this process's scope, the referenced object's shard, what the refusal names)
        type Case<'a> = (Scope, Option<&'a str>, Option<[&'a str; 2]>);
        let cases: [Case; 7] = [
            (Scope::All, Some("b"), None),
            (Scope::All, None, None),
            (shard("a"), Some("a"), None),
            (
                shard("a"),
                Some("b"),
                Some(["in shard b", "this object in shard a"]),
            ),
            (
                shard("a"),
                None,
                Some([
                    "in no shard (no ecs.operator.dev/shard label)",
                    "in shard a",
                ]),
            ),
            (Scope::Unsharded, None, None),
            (
                Scope::Unsharded,
                Some("b"),
                Some(["in shard b", "this object in no shard"]),
            ),
        ];
        for (scope, theirs, want) in cases {
            let l = labels(theirs);
            let got = check_reference(&scope, what, Some(&l));
            match (want, got) {
                (None, Ok(())) => {}
                (Some(parts), Err(e)) => {
                    assert_eq!(e.reason(), "ReferenceInAnotherShard");
                    assert_eq!(e.class(), crate::aws::ErrorClass::Environment);
                    let message = e.to_string();
                    assert!(message.starts_with(what), "{message}");
                    for part in parts {
                        assert!(message.contains(part), "{scope:?} {theirs:?}: {message}");
                    }
                }
                (want, got) => panic!("{scope:?} {theirs:?}: want {want:?}, got {got:?}"),
            }
        }
    }
}
