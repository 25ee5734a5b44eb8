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

/// How far a listing taken at `taken` (in `pages` pages) answers "absent" for an object
/// created at `created` (unknown: never absent without a fresh look).
pub fn absence(taken: SystemTime, pages: usize, created: Option<SystemTime>) -> Absence {
    if created.is_some_and(|c| taken >= c + ABSENT_MARGIN) {
        Absence::Absent
    } else if pages <= ABSENT_RELIST_PAGES {
        Absence::Relist
    } else {
        Absence::Describe
    }
}

/// The creation time of a Kubernetes object, as the listing compares it.
pub fn created_at(meta: &kube::api::ObjectMeta) -> Option<SystemTime> {
    meta.creation_timestamp
        .as_ref()
        .map(|t| SystemTime::from(t.0))
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
            assert_eq!(absence(taken, pages, created), want, "{case}");
        }
    }
}
