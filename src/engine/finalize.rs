//! Deleting an object: its deletion policy decides between releasing the AWS resource and
//! deleting it (waiting while AWS says the delete is blocked); then the finalizer goes.

use super::*;

/// The deletion policy in force: spec, else namespace annotation, else the operator default.
pub(super) fn deletion_policy(
    policies: &Policies,
    namespace: Option<DeletionPolicy>,
    default: DeletionPolicy,
) -> DeletionPolicy {
    policies.deletion_policy.or(namespace).unwrap_or(default)
}

pub(super) async fn finalize<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    key: &str,
) -> Result<Action, Error> {
    if !obj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    match release_or_delete(obj, ctx, key).await {
        Ok(action) => Ok(action),
        Err(err) => handle_error(obj, ctx, key, err, Some("Delete")).await,
    }
}

/// Deletion: policies first (observe-only, retain, paused), then ownership, then the kind.
pub(super) async fn release_or_delete<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    key: &str,
) -> Result<Action, Error> {
    let ext = &ctx.external;
    let ns = obj.namespace().unwrap_or_default();
    let mode = Mode::of(obj);
    if mode == Mode::ObserveOnly {
        return release(obj, ctx, key, "managementPolicy is ObserveOnly").await;
    }
    let ns_settings = ctx.env.namespaces.get(&ns).await?;
    let policy = deletion_policy(
        obj.policies(),
        ns_settings.deletion_policy,
        ctx.env.default_deletion_policy,
    );
    if policy == DeletionPolicy::Retain {
        return release(obj, ctx, key, "deletionPolicy is Retain").await;
    }
    if mode == Mode::Paused {
        let message = format!(
            "deletion waits: {PAUSED_ANNOTATION} is set, so AWS is not changed; remove the \
             annotation to delete the AWS resource, or set deletionPolicy: Retain to keep it"
        );
        let conditions = [
            NewCondition::new(SYNCED, false, reason::PAUSED, message),
            NewCondition::new(READY, false, reason::DELETING, "deletion requested"),
        ];
        write_status(obj, &ctx.client, None, &conditions).await?;
        return Ok(Action::await_change());
    }
    let (aws, me) = target(obj, ctx).await?;
    if let Some(tags) = ext.current_tags(obj, &aws).await?
        && !ownership::is_ours(&tags, &me)
    {
        let why = format!("{} is not owned by this object", ext.aws_name(obj));
        return release(obj, ctx, key, &why).await;
    }
    match ext.delete(obj, &aws).await? {
        DeleteOutcome::Deleted => {
            info!(object = %key, "deleted AWS resource");
            let note = "deleted the AWS resource".to_string();
            publish(ctx, obj, EventType::Normal, "Deleted", "Delete", note).await;
            remove_finalizer(obj, &ctx.client).await?;
            ctx.reset_backoff(key);
            Ok(Action::await_change())
        }
        DeleteOutcome::InProgress(message) => {
            debug!(object = %key, %message, "delete in progress");
            let conditions = [
                NewCondition::new(SYNCED, false, reason::DELETING, message),
                NewCondition::new(READY, false, reason::DELETING, "deletion requested"),
            ];
            write_status(obj, &ctx.client, None, &conditions).await?;
            Ok(Action::requeue(ctx.settings.not_ready_poll))
        }
        DeleteOutcome::Blocked(message) => {
            warn!(object = %key, %message, "delete blocked");
            publish(
                ctx,
                obj,
                EventType::Warning,
                reason::DELETE_BLOCKED,
                "Delete",
                message.clone(),
            )
            .await;
            let conditions = [
                NewCondition::new(SYNCED, false, reason::DELETE_BLOCKED, message),
                NewCondition::new(READY, false, reason::DELETING, "deletion requested"),
            ];
            write_status(obj, &ctx.client, None, &conditions).await?;
            // Retried with the usual backoff (up to backoff_max): the blocker may go away
            // without any change to this object (images deleted, services removed).
            Ok(Action::requeue(
                ctx.next_backoff(key, ErrorClass::Retryable),
            ))
        }
    }
}

/// Lets the object go without touching AWS.
pub(super) async fn release<K: Managed, E>(
    obj: &K,
    ctx: &Context<E>,
    key: &str,
    why: &str,
) -> Result<Action, Error> {
    info!(object = %key, %why, "object deleted; AWS resource left untouched");
    let note = format!("{why}: the AWS resource was left untouched");
    publish(ctx, obj, EventType::Normal, "Retained", "Delete", note).await;
    remove_finalizer(obj, &ctx.client).await?;
    ctx.reset_backoff(key);
    Ok(Action::await_change())
}
