//! The driver against a mocked API server (the ApiServerVerifier pattern of kube-rs's
//! controller-rs): a fake [`External`] and an ordered list of the exact requests a reconcile must
//! make, each answered and checked. No cluster, no AWS.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::{Value, json};

use super::*;
use crate::api::{EcrRepository, EcrRepositoryStatus};

/// One expected request: method, path, and a check of the body that returns the answer.
struct Expect {
    method: Method,
    path: String,
    answer: Box<dyn FnOnce(&Value) -> Value + Send>,
}

/// A kube client whose API server answers `expected` in order; anything else fails the test
/// (Events are answered and collected, since the recorder sends them as it likes).
fn mocked(expected: Vec<Expect>) -> (kube::Client, Arc<Mutex<VecDeque<Expect>>>) {
    let queue = Arc::new(Mutex::new(VecDeque::from(expected)));
    let q = queue.clone();
    let svc = tower::service_fn(move |req: Request<Body>| {
        let q = q.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await?;
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let path = parts.uri.path().to_string();
            let answer = if path.contains("/events") {
                value
            } else {
                let next = q.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(e) = next else {
                    panic!("unexpected request {} {path}: {value}", parts.method);
                };
                assert_eq!((&parts.method, path.as_str()), (&e.method, e.path.as_str()));
                (e.answer)(&value)
            };
            let body = serde_json::to_vec(&answer).unwrap_or_default();
            Ok::<_, kube::Error>(Response::new(Body::from(body)))
        }
    });
    (kube::Client::new(svc, "ns"), queue)
}

/// A resource whose whole state is one string.
struct Fake {
    observed: Option<String>,
    calls: Mutex<Vec<&'static str>>,
}

#[derive(Debug)]
struct Differs;

impl Describe for Differs {
    fn describe(&self) -> String {
        "value".into()
    }
}

impl External<EcrRepository> for Fake {
    type Desired = String;
    type Observed = String;
    type Changes = Vec<Differs>;

    fn aws_name(&self, _obj: &EcrRepository) -> String {
        "fake r".into()
    }
    async fn resolve(
        &self,
        _obj: &EcrRepository,
        _aws: &AwsClients,
        _owner_tags: &BTreeMap<String, String>,
    ) -> Result<String, Error> {
        Ok("wanted".into())
    }
    async fn observe(
        &self,
        _obj: &EcrRepository,
        _aws: &AwsClients,
        _d: &String,
    ) -> Result<Option<String>, Error> {
        Ok(self.observed.clone())
    }
    fn observed_tags(&self, _o: &String) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    async fn current_tags(
        &self,
        _obj: &EcrRepository,
        _aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        Ok(None)
    }
    fn diff(&self, d: &String, o: &String) -> Vec<Differs> {
        if d == o { vec![] } else { vec![Differs] }
    }
    async fn create(
        &self,
        _obj: &EcrRepository,
        _aws: &AwsClients,
        _d: &String,
    ) -> Result<String, Error> {
        self.record("create");
        Ok("arn:fake".into())
    }
    async fn update(
        &self,
        _obj: &EcrRepository,
        _aws: &AwsClients,
        _d: &mut String,
        _o: &String,
        _c: &Vec<Differs>,
    ) -> Result<(), Error> {
        self.record("update");
        Ok(())
    }
    async fn delete(
        &self,
        _obj: &EcrRepository,
        _aws: &AwsClients,
    ) -> Result<DeleteOutcome, Error> {
        self.record("delete");
        Ok(DeleteOutcome::Deleted)
    }
    fn status_fields(&self, _obj: &EcrRepository, o: &String) -> EcrRepositoryStatus {
        EcrRepositoryStatus {
            arn: Some(o.clone()),
            ..Default::default()
        }
    }
}

impl Fake {
    fn record(&self, call: &'static str) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(call);
    }
}

fn object(policy: Option<ManagementPolicy>) -> EcrRepository {
    let mut o = EcrRepository::new("r", Default::default());
    o.metadata.namespace = Some("ns".into());
    o.metadata.uid = Some("uid-1".into());
    o.metadata.generation = Some(3);
    o.metadata.resource_version = Some("7".into());
    o.spec.policies.management_policy = policy;
    o
}

async fn context(client: kube::Client, fake: Fake) -> Arc<Context<Fake>> {
    let aws = AwsProvider::load(&crate::aws::AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some("http://127.0.0.1:9".into()),
        max_attempts: 1,
        metrics: Default::default(),
    })
    .await
    .expect("region given");
    let env = Arc::new(Process {
        aws,
        namespaces: Namespaces::new(client.clone(), Duration::from_secs(60)),
        instance_id: "test".into(),
        default_deletion_policy: DeletionPolicy::Delete,
        telemetry: Default::default(),
    });
    Arc::new(Context::new(client, env, fake, Settings::default()))
}

const OBJECT: &str = "/apis/ecs.operator.dev/v1alpha1/namespaces/ns/ecrrepositories/r";

fn finalizer_patch() -> Expect {
    Expect {
        method: Method::PATCH,
        path: OBJECT.into(),
        answer: Box::new(|patch| {
            assert!(patch.to_string().contains(FINALIZER), "{patch}");
            serde_json::to_value(object(None)).unwrap_or_default()
        }),
    }
}

fn namespace_get() -> Expect {
    Expect {
        method: Method::GET,
        path: "/api/v1/namespaces/ns".into(),
        answer: Box::new(
            |_| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}),
        ),
    }
}

/// The status patch, with the conditions it writes by type.
fn status_patch(check: impl FnOnce(&Value, &BTreeMap<String, Value>) + Send + 'static) -> Expect {
    Expect {
        method: Method::PATCH,
        path: format!("{OBJECT}/status"),
        answer: Box::new(move |patch| {
            let conditions = patch["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|c| (c["type"].as_str().unwrap_or_default().to_string(), c))
                .collect();
            check(patch, &conditions);
            serde_json::to_value(object(None)).unwrap_or_default()
        }),
    }
}

#[tokio::test]
async fn observe_only_mirrors_differences_and_writes_nothing() {
    let (client, left) = mocked(vec![
        finalizer_patch(),
        namespace_get(),
        status_patch(|patch, c| {
            assert_eq!(c["Synced"]["status"], "True");
            assert_eq!(c["Synced"]["reason"], reason::OBSERVE_ONLY);
            let message = c["Synced"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("differs from the spec in value"),
                "{message}"
            );
            assert_eq!(patch["status"]["arn"], "seen");
            assert_eq!(patch["status"]["observedGeneration"], 3);
        }),
    ]);
    let fake = Fake {
        observed: Some("seen".into()),
        calls: Mutex::new(vec![]),
    };
    let ctx = context(client, fake).await;
    let obj = Arc::new(object(Some(ManagementPolicy::ObserveOnly)));
    let action = reconcile(obj, ctx.clone()).await.expect("reconciles");
    assert_eq!(action, Action::requeue(ctx.settings.resync));
    assert!(
        left.lock().unwrap_or_else(|p| p.into_inner()).is_empty(),
        "requests missing"
    );
    assert!(
        ctx.external
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    );
}

#[tokio::test]
async fn absent_resource_is_created_with_its_identity_recorded_first() {
    let (client, left) = mocked(vec![
        finalizer_patch(),
        namespace_get(),
        // create-pending (succeeded/failed cleared) before the call...
        Expect {
            method: Method::PATCH,
            path: OBJECT.into(),
            answer: Box::new(|patch| {
                let a = &patch["metadata"]["annotations"];
                assert!(a[CREATE_PENDING_ANNOTATION].is_string(), "{patch}");
                assert!(a[CREATE_SUCCEEDED_ANNOTATION].is_null(), "{patch}");
                serde_json::to_value(object(None)).unwrap_or_default()
            }),
        },
        // ...and the identity right after it.
        Expect {
            method: Method::PATCH,
            path: OBJECT.into(),
            answer: Box::new(|patch| {
                let a = &patch["metadata"]["annotations"];
                assert_eq!(a[EXTERNAL_NAME_ANNOTATION], "arn:fake", "{patch}");
                assert!(a[CREATE_SUCCEEDED_ANNOTATION].is_string(), "{patch}");
                serde_json::to_value(object(None)).unwrap_or_default()
            }),
        },
        status_patch(|_, c| {
            assert_eq!(c["Synced"]["status"], "False");
            assert_eq!(c["Synced"]["reason"], reason::RECONCILE_ERROR);
            assert_eq!(c["Reconciling"]["status"], "True");
        }),
    ]);
    // The fake never shows the resource, so the driver reports it as not visible yet.
    let fake = Fake {
        observed: None,
        calls: Mutex::new(vec![]),
    };
    let ctx = context(client, fake).await;
    reconcile(Arc::new(object(None)), ctx.clone())
        .await
        .expect("handled");
    assert!(
        left.lock().unwrap_or_else(|p| p.into_inner()).is_empty(),
        "requests missing"
    );
    assert_eq!(
        *ctx.external.calls.lock().unwrap_or_else(|p| p.into_inner()),
        ["create"]
    ); // The context's own metrics (no globals): one reconcile, its one error counted once.
    let text = ctx.env.telemetry.metrics.encode().expect("encodes");
    for want in [
        "ecs_operator_reconciles_total{kind=\"EcrRepository\"} 1".to_string(),
        format!(
            "ecs_operator_reconcile_errors_total{{kind=\"EcrRepository\",reason=\"{}\"}} 1",
            reason::RECONCILE_ERROR
        ),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
}
