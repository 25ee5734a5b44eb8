//! One reconcile of a live object: the mode (full, observe-only, paused), the AWS target, then
//! observe -> create (with its crash-safe record) or update, and the conditions written after.

use super::*;

/// One reconcile of one object. AWS errors are handled here (conditions, events, backoff);
/// only a failure to talk to Kubernetes escapes to `error_policy`.
pub async fn reconcile<K: Managed, E: External<K>>(
    obj: Arc<K>,
    ctx: Arc<Context<E>>,
) -> Result<Action, Error> {
    let _timer = ctx.env.telemetry.metrics.reconcile_timer(&K::kind(&()));
    let key = key_of(obj.as_ref());
    if obj.meta().deletion_timestamp.is_some() {
        return finalize(obj.as_ref(), &ctx, &key).await;
    }
    if !obj.finalizers().iter().any(|f| f == FINALIZER) {
        add_finalizer(obj.as_ref(), &ctx.client).await?;
    }
    // A terminal error waits for a spec change: no AWS call, no hot loop.
    if let Some(synced) = find_condition(obj.conditions(), SYNCED)
        && synced.reason == reason::TERMINAL_ERROR
        && synced.observed_generation == obj.meta().generation
    {
        debug!(object = %key, "terminal error for this generation; waiting for a spec change");
        return Ok(Action::await_change());
    }
    let mode = Mode::of(obj.as_ref());
    let was_paused =
        find_condition(obj.conditions(), SYNCED).is_some_and(|c| c.reason == reason::PAUSED);
    if mode == Mode::Paused && !was_paused {
        let note = format!("{PAUSED_ANNOTATION} is set: AWS is not changed until it is removed");
        publish(
            &ctx,
            obj.as_ref(),
            EventType::Normal,
            "Paused",
            "Pause",
            note,
        )
        .await;
    } else if mode != Mode::Paused && was_paused {
        let note = "resumed: AWS is converged to the spec again".to_string();
        publish(
            &ctx,
            obj.as_ref(),
            EventType::Normal,
            "Resumed",
            "Resume",
            note,
        )
        .await;
    }
    match converge(obj.as_ref(), &ctx, mode).await {
        Ok(done) => {
            ctx.reset_backoff(&key);
            debug!(object = %key, ready = done.readiness.ready, ?mode, "reconciled: in sync");
            let ready = done.readiness.ready;
            let (conditions, requeue) = settle(done.synced, done.readiness, mode, &ctx.settings);
            write_status(obj.as_ref(), &ctx.client, done.fields, &conditions).await?;
            // Not ready: poll on the shared tick, with the objects waiting beside it.
            let requeue = if ready {
                requeue
            } else {
                // A clock before 1970 only moves the ticks.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                poll_tick(requeue, now)
            };
            Ok(Action::requeue(requeue))
        }
        Err(err) => handle_error(obj.as_ref(), &ctx, &key, err, None).await,
    }
}

/// The conditions a converged reconcile writes, and when to look again. A kind may report a
/// stall (a failed rollout) or that AWS does not run the spec; otherwise a resource that is
/// not ready yet (rollout, provisioning) is work in flight, polled sooner than the resync.
/// Pure: `settle_table` pins it.
pub(super) fn settle(
    synced: NewCondition,
    readiness: Readiness,
    mode: Mode,
    settings: &Settings,
) -> (Vec<NewCondition>, Duration) {
    let Readiness {
        ready,
        reason: why,
        message,
        stalled,
        not_synced,
        conditions: kind_conditions,
    } = readiness;
    let synced = match not_synced {
        Some(n) => NewCondition::new(SYNCED, false, n.reason, n.message),
        None => synced,
    };
    let progress = match stalled {
        Some(n) => Progress::Stalled {
            reason: n.reason,
            message: n.message,
        },
        None if ready || mode != Mode::Full => Progress::Settled,
        None => Progress::InFlight {
            reason: why.clone(),
            message: message.clone(),
        },
    };
    let mut conditions = vec![synced, NewCondition::new(READY, ready, why, message)];
    conditions.extend(progress.conditions());
    conditions.extend(kind_conditions);
    let requeue = if ready {
        settings.resync
    } else {
        settings.not_ready_poll.min(settings.resync)
    };
    (conditions, requeue)
}

/// How far this reconcile may write to AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Full,
    ObserveOnly,
    Paused,
}

impl Mode {
    pub(super) fn of<K: Managed>(obj: &K) -> Self {
        if obj.policies().management_policy == Some(ManagementPolicy::ObserveOnly) {
            Mode::ObserveOnly
        } else if obj
            .annotations()
            .get(PAUSED_ANNOTATION)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            Mode::Paused
        } else {
            Mode::Full
        }
    }
}

/// Outcome of a successful reconcile.
pub(super) struct Converged {
    synced: NewCondition,
    readiness: Readiness,
    /// Kind-specific status fields; `None` keeps the last known ones.
    fields: Option<Map<String, Value>>,
}

/// The AWS clients (region, namespace role) and owner identity for one object.
pub(super) async fn target<K: Managed, E>(
    obj: &K,
    ctx: &Context<E>,
) -> Result<(Arc<AwsClients>, Identity), Error> {
    let ns = obj.namespace().unwrap_or_default();
    let settings = ctx.env.namespaces.get(&ns).await?;
    let aws = ctx
        .env
        .aws
        .clients(
            obj.policies().region.as_deref(),
            settings.role_arn.as_deref(),
            &ns,
        )
        .await;
    let identity = Identity::new(&ns, &obj.name_any(), &uid_of(obj)?, &ctx.env.instance_id);
    Ok((aws, identity))
}

/// Observe, then (in Full mode, when ownership allows) create, adopt or update.
pub(super) async fn converge<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    mode: Mode,
) -> Result<Converged, Error> {
    let ext = &ctx.external;
    let (aws, me) = target(obj, ctx).await?;
    // Observe-only never adds ownership tags, so they are not part of what it compares.
    let owner_tags = match mode {
        Mode::ObserveOnly => BTreeMap::new(),
        _ => me.tags(),
    };
    let mut desired = ext.resolve(obj, &aws, &owner_tags).await?;
    let observed = ext.observe(obj, &aws, &desired).await?;
    if mode != Mode::Full {
        return Ok(observe_only(obj, ext, &desired, observed.as_ref(), mode));
    }
    let claim = match &observed {
        Some(o) => Some(resolve_claim(obj, ctx, &ext.observed_tags(o), &me).await),
        None => None,
    };
    let adoption = obj.policies().adoption_policy.unwrap_or_default();
    let observed = match ownership::plan(
        claim.as_ref().map(|(c, _)| c),
        claim.as_ref().is_some_and(|(_, alive)| *alive),
        adoption,
        &ext.aws_name(obj),
    ) {
        Plan::Refuse { reason, message } => return Err(Error::Refused { reason, message }),
        Plan::Create => create_or_recover(obj, ctx, &aws, &me, &mut desired).await?,
        plan @ (Plan::Converge | Plan::Adopt) => {
            let Some(observed) = observed else {
                return Err(Error::NotConverged(
                    "resource vanished while observing".into(),
                ));
            };
            if plan == Plan::Adopt {
                info!(object = %key_of(obj), ?adoption, "adopting AWS resource");
                let note = format!(
                    "adopted {} (spec.adoptionPolicy {adoption:?}); it now carries this object's \
                     ownership tags",
                    ext.aws_name(obj)
                );
                publish(ctx, obj, EventType::Normal, "Adopted", "Adopt", note).await;
            }
            if plan == Plan::Converge
                && create::record(obj.annotations()) == create::CreateRecord::Incomplete
            {
                let arn = ext
                    .status_fields(obj, &observed)
                    .identity()
                    .map(str::to_string);
                close_create_record(obj, ctx, arn).await?;
            }
            update_if_needed(obj, ctx, &aws, &mut desired, observed).await?
        }
    };
    Ok(Converged {
        synced: NewCondition::new(SYNCED, true, reason::RECONCILE_SUCCESS, ""),
        readiness: ext.readiness(obj, &observed),
        fields: Some(with_refreshed(obj, ext.status_fields(obj, &observed))),
    })
}

/// The resource an unfinished create made (its answer was lost, or the process died before
/// recording it) was found, by the kind's lookup or by observe: the record is closed with its
/// identity (`id`) and nothing is created again.
pub(super) async fn close_create_record<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    id: Option<String>,
) -> Result<(), Error> {
    let mut marks = vec![(CREATE_SUCCEEDED_ANNOTATION, Some(now_rfc3339()))];
    if let Some(id) = &id {
        marks.push((EXTERNAL_NAME_ANNOTATION, Some(id.clone())));
    }
    annotate(obj, &ctx.client, &marks).await?;
    let what = id.unwrap_or_else(|| ctx.external.aws_name(obj));
    info!(object = %key_of(obj), %what, "found the resource an unfinished create made; not creating another");
    let note =
        format!("found {what}, made by an earlier create whose answer was lost; not created again");
    publish(ctx, obj, EventType::Normal, "Recovered", "Create", note).await;
    Ok(())
}

/// Observe found nothing: create, unless an earlier create's outcome is unknown; then the
/// kind looks for its result first and a found resource is recorded and converged instead.
pub(super) async fn create_or_recover<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    aws: &AwsClients,
    me: &Identity,
    desired: &mut E::Desired,
) -> Result<E::Observed, Error> {
    let ext = &ctx.external;
    let record = create::record(obj.annotations());
    let lookup = match record {
        create::CreateRecord::Incomplete => {
            let recorded = obj.annotations().get(EXTERNAL_NAME_ANNOTATION);
            Some(
                ext.find_created(obj, aws, desired, recorded.map(String::as_str))
                    .await?,
            )
        }
        _ => None,
    };
    let (id, found) = match create::step(record, lookup) {
        create::CreateStep::Wait(message) => {
            return Err(Error::Refused {
                reason: reason::CREATE_PENDING,
                message,
            });
        }
        create::CreateStep::Recover { id, observed } => (id, observed),
        create::CreateStep::Create => return create_new(obj, ctx, aws, me, desired).await,
    };
    if !ownership::is_ours(&ext.observed_tags(&found), me) {
        return Err(Error::Refused {
            reason: reason::ALREADY_EXISTS,
            message: format!(
                "{} found after an unfinished create is not owned by this object; AWS was not \
                 changed",
                ext.aws_name(obj)
            ),
        });
    }
    close_create_record(obj, ctx, Some(id)).await?;
    update_if_needed(obj, ctx, aws, desired, found).await
}

/// Creates the resource, recording the attempt and its outcome on the object.
pub(super) async fn create_new<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    aws: &AwsClients,
    me: &Identity,
    desired: &mut E::Desired,
) -> Result<E::Observed, Error> {
    let ext = &ctx.external;
    // Once per create attempt that left no record: rewriting the pending mark on every retry
    // (say, while throttled, after a lookup found nothing) would change the object, and its
    // watch event would retry at once, past the backoff.
    if !matches!(
        create::record(obj.annotations()),
        create::CreateRecord::Incomplete
    ) {
        annotate(
            obj,
            &ctx.client,
            &[
                (CREATE_PENDING_ANNOTATION, Some(now_rfc3339())),
                (CREATE_SUCCEEDED_ANNOTATION, None),
                (CREATE_FAILED_ANNOTATION, None),
            ],
        )
        .await?;
    }
    let created = ext.create(obj, aws, desired).await;
    // Recorded before anything else: a crash from here on finds the name.
    let outcome = match &created {
        Ok(id) => vec![
            (CREATE_SUCCEEDED_ANNOTATION, Some(now_rfc3339())),
            (EXTERNAL_NAME_ANNOTATION, Some(id.clone())),
        ],
        // Nothing is marked on a failure, not even a certain refusal: a mark changes the
        // object, and its watch event would retry at once, past the backoff (a refused create
        // retried hundreds of times a minute). The record stays open; the next attempt looks
        // for an earlier create's result first (free for kinds found by name).
        Err(_) => vec![],
    };
    if !outcome.is_empty() {
        annotate(obj, &ctx.client, &outcome).await?;
    }
    let Some(now) = ext.observe(obj, aws, desired).await? else {
        created?;
        return Err(Error::Aws(AwsError {
            operation: "Observe",
            code: None,
            message: "resource not visible yet after create".into(),
            class: ErrorClass::Retryable,
        }));
    };
    // Lost a race (another object or someone in AWS created it first; CreateCluster even
    // answers with the existing cluster): never converge what is not ours. The next attempt
    // reports the precise reason.
    if !ownership::is_ours(&ext.observed_tags(&now), me) {
        return Err(Error::Refused {
            reason: reason::ALREADY_EXISTS,
            message: format!(
                "{} was created by someone else while this object was creating it; AWS was not \
                 changed",
                ext.aws_name(obj)
            ),
        });
    }
    // A failed call whose resource exists and is ours (e.g. a timeout after success) counts as
    // created.
    if let Err(e) = created {
        debug!(object = %key_of(obj), error = %e, "create reported an error, but the resource exists and is ours");
    }
    info!(object = %key_of(obj), "created AWS resource");
    let note = "created the AWS resource".to_string();
    publish(ctx, obj, EventType::Normal, "Created", "Create", note).await;
    // Some settings cannot be sent on create (or an endpoint ignores them there): finish in
    // this reconcile, so Synced is never claimed before AWS matches.
    update_if_needed(obj, ctx, aws, desired, now).await
}

/// The kind's changes plus the driver's tag changes (for kinds that name a tag target).
pub(super) fn all_changes<K: Managed, E: External<K>>(
    ext: &E,
    desired: &E::Desired,
    observed: &E::Observed,
) -> (E::Changes, Option<(TagTarget, TagChanges)>) {
    let tag_changes = ext.tag_target(observed).and_then(|target| {
        let changes = tags::diff(&ext.desired_tags(desired), &ext.observed_tags(observed));
        (!changes.is_empty()).then_some((target, changes))
    });
    (ext.diff(desired, observed), tag_changes)
}

pub(super) fn describe_all<C: Changes>(
    changes: &C,
    tag_changes: &Option<(TagTarget, TagChanges)>,
) -> String {
    let mut all = changes.describe();
    all.extend(tag_changes.iter().flat_map(|(_, t)| t.describe()));
    all.join(", ")
}

/// Applies the changes `diff` finds (and the tag changes), then checks AWS shows them.
pub(super) async fn update_if_needed<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    aws: &AwsClients,
    desired: &mut E::Desired,
    observed: E::Observed,
) -> Result<E::Observed, Error> {
    let ext = &ctx.external;
    let (changes, tag_changes) = all_changes(ext, desired, &observed);
    if changes.is_empty() && tag_changes.is_none() {
        return Ok(observed);
    }
    let differences = describe_all(&changes, &tag_changes);
    if !changes.is_empty() {
        ext.update(obj, aws, desired, &observed, &changes).await?;
    }
    if let Some((target, tag_changes)) = &tag_changes {
        tags::apply(aws, target, tag_changes).await?;
    }
    info!(object = %key_of(obj), %differences, "updated AWS resource");
    let note = format!("updated in AWS: {differences}");
    publish(ctx, obj, EventType::Normal, "Updated", "Update", note).await;
    let after = ext.observe(obj, aws, desired).await?.unwrap_or(observed);
    let (left, tags_left) = all_changes(ext, desired, &after);
    if !left.is_empty() || tags_left.is_some() {
        // AWS accepted the calls but does not show the result (eventual consistency, or an
        // endpoint that ignores a field): retry with backoff instead of claiming Synced.
        return Err(Error::NotConverged(describe_all(&left, &tags_left)));
    }
    Ok(after)
}

/// Observe-only and paused objects: mirror AWS into status, write nothing.
pub(super) fn observe_only<K: Managed, E: External<K>>(
    obj: &K,
    ext: &E,
    desired: &E::Desired,
    observed: Option<&E::Observed>,
    mode: Mode,
) -> Converged {
    let (status, reason, what) = match mode {
        Mode::Paused => (
            false,
            reason::PAUSED,
            format!("paused by annotation {PAUSED_ANNOTATION}"),
        ),
        _ => (
            true,
            reason::OBSERVE_ONLY,
            "managementPolicy ObserveOnly".into(),
        ),
    };
    let Some(observed) = observed else {
        return Converged {
            synced: NewCondition::new(SYNCED, status, reason, format!("{what}: AWS not changed")),
            readiness: Readiness::not_ready(
                reason::NOT_FOUND,
                format!("{} does not exist in AWS", ext.aws_name(obj)),
            ),
            fields: None,
        };
    };
    let (changes, tag_changes) = all_changes(ext, desired, observed);
    let differences = describe_all(&changes, &tag_changes);
    let message = if differences.is_empty() {
        format!("{what}: AWS matches the spec")
    } else {
        format!("{what}: AWS differs from the spec in {differences}; not changed")
    };
    Converged {
        synced: NewCondition::new(SYNCED, status, reason, message),
        readiness: ext.readiness(obj, observed),
        fields: Some(with_refreshed(obj, ext.status_fields(obj, observed))),
    }
}

/// The kind's status fields as the status write sends them, plus `status.lastRefreshed`: the
/// refresh annotation's value when this reconcile honoured it (the kinds read AWS afresh while
/// it is due: `refresh_due`), else the value recorded before, which the new fields would
/// otherwise drop. Only a reconcile that observed AWS records a value; one that failed earlier
/// leaves the refresh due for its retry. `conditions` and `observedGeneration` are left to
/// [`write_status`].
pub(super) fn with_refreshed<K: Managed>(obj: &K, mut fields: K::Status) -> Map<String, Value> {
    let last = obj
        .kind_status()
        .and_then(KindStatus::last_refreshed)
        .map(str::to_string);
    let due = crate::api::common::refresh_due(obj.annotations(), last.as_deref());
    fields.set_last_refreshed(due.map(str::to_string).or(last));
    let mut map = as_map(obj, &fields);
    for key in DRIVER_STATUS_FIELDS {
        if key != "lastRefreshed" {
            map.remove(key);
        }
    }
    map
}

/// Reads the owner of an existing AWS resource. For a `Foreign` claim, also whether the owning
/// object still exists (`true` when unknown: never take a resource by guess).
pub(super) async fn resolve_claim<K: Managed, E>(
    obj: &K,
    ctx: &Context<E>,
    tags: &BTreeMap<String, String>,
    me: &Identity,
) -> (Claim, bool) {
    let claim = ownership::claim(tags, me);
    let Claim::Foreign { owner, uid } = &claim else {
        return (claim, false);
    };
    let Some((ns, name)) = owner.split_once('/') else {
        return (claim, false);
    };
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    let alive = match api.get_opt(name).await {
        Ok(Some(other)) => other.uid().as_deref() == Some(uid.as_str()),
        Ok(None) => false,
        Err(e) => {
            debug!(object = %key_of(obj), %owner, error = %e, "cannot look up the owner; assuming it exists");
            true
        }
    };
    (claim, alive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::REFRESH_ANNOTATION;
    use crate::api::{EcrRepository, EcrRepositoryStatus};

    /// The driver records the refresh value it honoured, keeps the last one otherwise, and
    /// never drops it with the kind's new fields.
    #[test]
    fn last_refreshed_records_the_value_honoured_and_keeps_it() {
        let obj = |annotation: Option<&str>, last: Option<&str>| {
            let mut o = EcrRepository::new("r", Default::default());
            o.metadata.annotations =
                annotation.map(|v| [(REFRESH_ANNOTATION.to_string(), v.to_string())].into());
            o.status = Some(EcrRepositoryStatus {
                last_refreshed: last.map(str::to_string),
                ..Default::default()
            });
            o
        };
        let cases = [
            ("never asked", None, None, None),
            ("asked: recorded", Some("t1"), None, Some("t1")),
            ("honoured already: kept", Some("t1"), Some("t1"), Some("t1")),
            ("asked again", Some("t2"), Some("t1"), Some("t2")),
            ("annotation removed: kept", None, Some("t1"), Some("t1")),
        ];
        for (name, annotation, last, want) in cases {
            let fields = EcrRepositoryStatus {
                arn: Some("arn:aws:ecr:us-east-1:1:repository/r".into()),
                ..Default::default()
            };
            let got = with_refreshed(&obj(annotation, last), fields);
            assert_eq!(
                got.get("lastRefreshed").and_then(Value::as_str),
                want,
                "{name}"
            );
            assert!(got.contains_key("arn"), "{name}: the kind's fields stay");
            assert!(
                !got.contains_key("conditions") && !got.contains_key("observedGeneration"),
                "{name}: the driver writes those"
            );
        }
    }
}
