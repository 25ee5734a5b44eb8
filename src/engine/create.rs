//! Creates are recorded on the object as Crossplane does: `create-pending` before the call and
//! `create-succeeded` (with the external name) after it. A refused create writes nothing (a mark
//! would change the object and its watch event would retry at once, past the backoff), so a
//! pending mark without success means a crash, a lost answer or a refusal: the resource may
//! exist, and the next attempt looks for it before creating again. `create-failed` is only read
//! (and cleared by the next pending write): this version never writes it. Pure: the driver does
//! the I/O.

use std::collections::BTreeMap;

/// Written (and succeeded/failed removed) right before a create call.
pub const CREATE_PENDING_ANNOTATION: &str = "ecs.operator.dev/external-create-pending";
/// Written right after a create AWS answered with the resource.
pub const CREATE_SUCCEEDED_ANNOTATION: &str = "ecs.operator.dev/external-create-succeeded";
/// Read, never written by this version (see the module doc); cleared by the next pending write.
pub const CREATE_FAILED_ANNOTATION: &str = "ecs.operator.dev/external-create-failed";
/// The external identity (ARN) the last successful create returned.
pub const EXTERNAL_NAME_ANNOTATION: &str = "ecs.operator.dev/external-name";

/// What the annotations say about the last create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateRecord {
    /// No create was ever attempted (or by a version that did not record it).
    Never,
    Succeeded,
    /// AWS refused it: nothing was created.
    Failed,
    /// Pending without an outcome: a crash or a lost answer after the call.
    Incomplete,
}

/// Reads the create annotations. The pending write removes the other two, so their presence
/// alone tells the outcome of the latest attempt.
pub fn record(annotations: &BTreeMap<String, String>) -> CreateRecord {
    let has = |k: &str| annotations.contains_key(k);
    match (
        has(CREATE_PENDING_ANNOTATION),
        has(CREATE_SUCCEEDED_ANNOTATION),
        has(CREATE_FAILED_ANNOTATION),
    ) {
        (_, true, _) => CreateRecord::Succeeded,
        (_, false, true) => CreateRecord::Failed,
        (true, false, false) => CreateRecord::Incomplete,
        (false, false, false) => CreateRecord::Never,
    }
}

/// What a kind finds when it looks for the result of a create whose outcome is unknown.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<O> {
    /// The resource the earlier create made, and its external identity.
    Found { id: String, observed: O },
    /// AWS certainly holds nothing this object created: creating is safe.
    Absent,
    /// Cannot tell (yet): do not create; retry later.
    Unknown(String),
}

/// Next step when observe found nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum CreateStep<O> {
    Create,
    /// An earlier create's resource: record it and converge it.
    Recover {
        id: String,
        observed: O,
    },
    /// Neither create nor converge; the message says why.
    Wait(String),
}

/// Decision table. `lookup` is the kind's search for an earlier create's result, made only when
/// the record is incomplete (`None` otherwise).
pub fn step<O>(record: CreateRecord, lookup: Option<Lookup<O>>) -> CreateStep<O> {
    match (record, lookup) {
        // The last create finished (or never happened): what observe does not see is gone
        // (deleted in AWS after it was created), so it is created again.
        (CreateRecord::Never | CreateRecord::Succeeded | CreateRecord::Failed, _) => {
            CreateStep::Create
        }
        (CreateRecord::Incomplete, Some(Lookup::Found { id, observed })) => {
            CreateStep::Recover { id, observed }
        }
        (CreateRecord::Incomplete, Some(Lookup::Absent)) => CreateStep::Create,
        (CreateRecord::Incomplete, Some(Lookup::Unknown(why))) => CreateStep::Wait(format!(
            "an earlier create may have succeeded and its result cannot be found yet ({why}); \
             not creating a second resource"
        )),
        (CreateRecord::Incomplete, None) => CreateStep::Wait(
            "an earlier create may have succeeded and was not looked for; not creating a second \
             resource"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(keys: &[&str]) -> BTreeMap<String, String> {
        keys.iter()
            .map(|k| (k.to_string(), "2026-01-01T00:00:00Z".to_string()))
            .collect()
    }

    #[test]
    fn record_table() {
        let p = CREATE_PENDING_ANNOTATION;
        let s = CREATE_SUCCEEDED_ANNOTATION;
        let f = CREATE_FAILED_ANNOTATION;
        let cases: [(&[&str], CreateRecord); 6] = [
            (&[], CreateRecord::Never),
            (&[p], CreateRecord::Incomplete),
            (&[p, s], CreateRecord::Succeeded),
            (&[p, f], CreateRecord::Failed),
            // Written by hand or by an older version: an outcome without pending still counts.
            (&[s], CreateRecord::Succeeded),
            (&[EXTERNAL_NAME_ANNOTATION], CreateRecord::Never),
        ];
        for (keys, want) in cases {
            assert_eq!(record(&annotations(keys)), want, "{keys:?}");
        }
    }

    #[test]
    fn step_table() {
        use CreateRecord::*;
        let found = || {
            Some(Lookup::Found {
                id: "arn:1".to_string(),
                observed: 7,
            })
        };
        let create = CreateStep::<i32>::Create;
        let recover = CreateStep::Recover {
            id: "arn:1".to_string(),
            observed: 7,
        };
        let cases = [
            ("never created", Never, None, Some(&create)),
            (
                "created, then deleted in AWS",
                Succeeded,
                None,
                Some(&create),
            ),
            ("refused before", Failed, None, Some(&create)),
            ("crash, found", Incomplete, found(), Some(&recover)),
            (
                "crash, certainly absent",
                Incomplete,
                Some(Lookup::Absent),
                Some(&create),
            ),
            (
                "crash, cannot tell",
                Incomplete,
                Some(Lookup::Unknown("x".into())),
                None,
            ),
            ("crash, not looked for", Incomplete, None, None),
        ];
        for (name, rec, lookup, want) in cases {
            let got = step(rec, lookup);
            match want {
                Some(w) => assert_eq!(&got, w, "{name}"),
                None => assert!(matches!(got, CreateStep::Wait(_)), "{name}: {got:?}"),
            }
        }
    }
}
