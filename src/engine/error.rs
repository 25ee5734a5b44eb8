//! Errors a reconcile meets, their class (retryable, terminal, throttled, environment), and how
//! the driver reports one: conditions, an Event, the requeue delay.

use super::*;

/// Errors a reconcile can meet, each classified for retry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Aws(#[from] AwsError),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The spec cannot be mapped to a valid AWS request.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// A referenced object (e.g. an EcrRepository) does not exist or is not Ready yet.
    #[error("{0}")]
    ReferenceNotReady(String),
    /// A referenced object is in another shard: this process does not watch it (see
    /// [`super::shards`]). Waits for a person to relabel one of them.
    #[error("{0}")]
    ReferenceInAnotherShard(String),
    /// The driver left AWS untouched on purpose (ownership, adoption policy, observe-only).
    #[error("{message}")]
    Refused {
        reason: &'static str,
        message: String,
    },
    /// AWS accepted the update but still differs from the spec.
    #[error("AWS accepted the update but still differs from the spec in: {0}; retrying")]
    NotConverged(String),
    /// Not the spec's fault and not AWS's answer: e.g. a malformed namespace annotation.
    #[error("{message}")]
    Environment {
        reason: &'static str,
        message: String,
    },
}

/// The object's UID. Every object the API server returns has one; an object without (built in
/// memory, never stored) cannot name its AWS resource or client token, so the reconcile stops
/// there instead of using an empty token.
pub fn uid_of<K: Resource>(obj: &K) -> Result<String, Error> {
    obj.meta().uid.clone().ok_or_else(|| Error::Environment {
        reason: reason::RECONCILE_ERROR,
        message: format!(
            "object {} has no metadata.uid: only objects read from the API server are reconciled",
            obj.meta().name.as_deref().unwrap_or("(unnamed)")
        ),
    })
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Aws(e) => match e.class {
                // NotFound reaching the driver means a dependency is missing: retry.
                ErrorClass::NotFound => ErrorClass::Retryable,
                c => c,
            },
            // Refusals are retried slowly (with backoff): the other owner may go away, the
            // resource may appear; a spec change retries at once.
            Error::Kube(_)
            | Error::NotConverged(_)
            | Error::ReferenceNotReady(_)
            | Error::Refused { .. } => ErrorClass::Retryable,
            Error::InvalidSpec(_) => ErrorClass::Terminal,
            // Not the spec's fault, and healed by a label change that may not wake this object
            // (the other shard's object): Stalled, retried slowly.
            Error::Environment { .. } | Error::ReferenceInAnotherShard(_) => {
                ErrorClass::Environment
            }
        }
    }

    /// Stable condition / event reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::NotConverged(_) => return reason::NOT_CONVERGED,
            Error::ReferenceNotReady(_) => return reason::REFERENCE_NOT_READY,
            Error::ReferenceInAnotherShard(_) => return reason::REFERENCE_IN_ANOTHER_SHARD,
            Error::Refused { reason, .. } | Error::Environment { reason, .. } => return reason,
            Error::Aws(e) if e.class == ErrorClass::Environment => {
                return if crate::aws::errors::is_credentials_code(e.code.as_deref()) {
                    reason::CREDENTIALS_ERROR
                } else {
                    reason::ACCESS_DENIED
                };
            }
            _ => {}
        }
        match self.class() {
            ErrorClass::Terminal => reason::TERMINAL_ERROR,
            ErrorClass::Throttled => reason::THROTTLED,
            _ => reason::RECONCILE_ERROR,
        }
    }
}

pub(super) async fn handle_error<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    key: &str,
    err: Error,
    action: Option<&str>,
) -> Result<Action, Error> {
    let class = err.class();
    let message = match class {
        ErrorClass::Environment => conditions::environment_message(err.reason(), &err.to_string()),
        _ => err.to_string(),
    };
    ctx.env
        .telemetry
        .metrics
        .count_reconcile_error(&K::kind(&()), err.reason());
    warn!(object = %key, error = %message, ?class, "reconcile error");
    publish(
        ctx,
        obj,
        EventType::Warning,
        err.reason(),
        action.unwrap_or("Reconcile"),
        message.clone(),
    )
    .await;
    // kstatus: an error that waits for a person is Stalled (Failed) for this generation; any
    // other is work in flight, and the generation stays unobserved until it converges.
    let stalled = matches!(class, ErrorClass::Terminal | ErrorClass::Environment);
    let progress = if stalled {
        Progress::Stalled {
            reason: err.reason().into(),
            message: message.clone(),
        }
    } else {
        Progress::InFlight {
            reason: err.reason().into(),
            message: message.clone(),
        }
    };
    let mut conditions = vec![NewCondition::new(
        SYNCED,
        false,
        err.reason(),
        message.clone(),
    )];
    conditions.extend(progress.conditions());
    // Ready describes the latest generation: one that was never applied is not ready, even
    // while AWS still runs the previous one. An error on a resync of an applied generation
    // (drift correction) leaves Ready alone.
    let generation = obj.meta().generation;
    let applied = generation.is_some() && observed_generation(obj) == generation;
    if !applied || find_condition(obj.conditions(), READY).is_none() {
        let ready_message = match (find_condition(obj.conditions(), READY), generation) {
            (None, _) => format!("the AWS resource has not been reconciled yet: {message}"),
            (Some(_), Some(g)) => format!("generation {g} is not applied: {message}"),
            (Some(_), None) => message.clone(),
        };
        conditions.push(NewCondition::new(READY, false, err.reason(), ready_message));
    }
    write_status_at(obj, &ctx.client, None, &conditions, stalled).await?;
    if class == ErrorClass::Terminal && action.is_none() {
        ctx.reset_backoff(key);
        return Ok(Action::await_change());
    }
    Ok(Action::requeue(ctx.next_backoff(key, class)))
}
