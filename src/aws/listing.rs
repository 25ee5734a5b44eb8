//! Shared listings answer "does it exist" for many objects with one call: when may a name a
//! listing does not hold count as absent, without a "not found" probe of its own? Pure.

use std::time::{Duration, SystemTime};

/// A name the listing does not hold counts as absent only when the listing was taken this long
/// after the object was created (clock skew between the API server and the operator).
pub const ABSENT_MARGIN: Duration = Duration::from_secs(2);
/// An older listing is taken again first when it took at most this many pages; a larger one
/// costs more than one describe of the name.
pub const ABSENT_RELIST_PAGES: usize = 3;

/// What a complete listing without a name says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Absence {
    /// Listed after the object was created: it does not exist.
    Absent,
    /// Listed before the object existed (someone may have created the name since, for the
    /// object to adopt or refuse): list again.
    Relist,
    /// Listed before, and listing again costs more than describing the name.
    Describe,
}

/// How far a listing taken at `taken` (in `pages` pages) answers "absent" for an object that
/// `existed_by` that moment of the operator's clock ([`existed_by`]; unknown: never absent
/// without a fresh look).
pub fn absence(taken: SystemTime, pages: usize, existed_by: Option<SystemTime>) -> Absence {
    if existed_by.is_some_and(|e| taken >= e) {
        Absence::Absent
    } else if pages <= ABSENT_RELIST_PAGES {
        Absence::Relist
    } else {
        Absence::Describe
    }
}

/// The moment of the operator's clock by which the object surely existed: its creation time
/// plus the clock-skew margin, or sooner `held_since`, a moment the operator already held the
/// object (a reconcile's start): a listing taken after that was taken after the object was
/// created, whatever the API server's clock says. So a new object's first reconcile lists once
/// instead of probing its name. `None` without a creation time. Pure.
pub fn existed_by(meta: &kube::api::ObjectMeta, held_since: SystemTime) -> Option<SystemTime> {
    let created = meta.creation_timestamp.as_ref()?;
    Some((SystemTime::from(created.0) + ABSENT_MARGIN).min(held_since))
}

/// Names for one batched describe call: `requested` first, then `peers`, without duplicates,
/// at most `limit`. Pure.
pub fn batch_names(
    requested: &str,
    peers: impl IntoIterator<Item = String>,
    limit: usize,
) -> Vec<String> {
    let mut names = vec![requested.to_string()];
    for name in peers {
        if names.len() >= limit {
            break;
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absence_table() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let s = Duration::from_secs;
        let cases = [
            (
                "listed well after the object",
                t0 + s(10),
                1,
                Some(t0),
                Absence::Absent,
            ),
            (
                "listed at the margin",
                t0 + ABSENT_MARGIN,
                1,
                Some(t0),
                Absence::Absent,
            ),
            (
                "listed within the skew margin",
                t0 + s(1),
                1,
                Some(t0),
                Absence::Relist,
            ),
            (
                "listed before the object",
                t0 - s(5),
                3,
                Some(t0),
                Absence::Relist,
            ),
            (
                "before, and a large listing",
                t0 - s(5),
                4,
                Some(t0),
                Absence::Describe,
            ),
            ("creation unknown", t0, 1, None, Absence::Relist),
            (
                "creation unknown, large listing",
                t0,
                20,
                None,
                Absence::Describe,
            ),
        ];
        for (case, taken, pages, created, want) in cases {
            let existed_by = created.map(|c| c + ABSENT_MARGIN);
            assert_eq!(absence(taken, pages, existed_by), want, "{case}");
        }
    }

    /// An object the operator holds existed by then: a listing taken after the reconcile
    /// started is after its creation even when the API server's clock runs ahead.
    #[test]
    fn existed_by_table() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let s = Duration::from_secs;
        let meta = |created: Option<SystemTime>| kube::api::ObjectMeta {
            creation_timestamp: created
                .map(|c| Time(k8s_openapi::jiff::Timestamp::try_from(c).expect("in range"))),
            ..Default::default()
        };
        let cases = [
            (
                "held right after creation",
                Some(t0),
                t0 + s(1) / 2,
                Some(t0 + s(1) / 2),
            ),
            (
                "held long after creation",
                Some(t0),
                t0 + s(60),
                Some(t0 + ABSENT_MARGIN),
            ),
            ("server clock ahead of ours", Some(t0 + s(30)), t0, Some(t0)),
            ("no creation time", None, t0, None),
        ];
        for (case, created, held, want) in cases {
            assert_eq!(existed_by(&meta(created), held), want, "{case}");
        }
    }
}
