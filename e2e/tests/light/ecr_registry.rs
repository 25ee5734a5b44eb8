//! EcrRegistry end to end against the bed (moto has replication, registry scanning and the
//! registry policy; pull-through cache rules and creation templates are unit-tested only).
//! Registry settings are global per region, so each test uses a region of its own.

use anyhow::{Result, ensure};
use aws_sdk_ecr::types::{ScanFrequency, ScanType};
use e2e::{TestEnv, condition_message, manifest, unique};
use ecs_operator::api::EcrRegistry;
use ecs_operator::contract::policy;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

/// An ECR client for `region` on the bed's moto.
async fn ecr_in(region: &str) -> aws_sdk_ecr::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await;
    aws_sdk_ecr::Client::new(&config)
}

/// The registry settings of one region as moto reports them.
#[derive(Debug, PartialEq)]
struct Registry {
    /// (destination regions, repository filters) per replication rule.
    replication: Vec<(Vec<String>, Vec<String>)>,
    scan_type: String,
    /// (frequency, filters) per scanning rule.
    scan_rules: Vec<(String, Vec<String>)>,
    policy: Option<Value>,
}

async fn registry(ecr: &aws_sdk_ecr::Client) -> Result<Registry> {
    let described = ecr.describe_registry().send().await?;
    let replication = described
        .replication_configuration()
        .map(|r| {
            r.rules()
                .iter()
                .map(|rule| {
                    (
                        rule.destinations()
                            .iter()
                            .map(|d| d.region().to_string())
                            .collect(),
                        rule.repository_filters()
                            .iter()
                            .map(|f| f.filter().to_string())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let scanning = ecr.get_registry_scanning_configuration().send().await?;
    let scanning = scanning.scanning_configuration();
    let scan_type = scanning
        .and_then(|s| s.scan_type())
        .map(|t| t.as_str().to_string())
        .unwrap_or_default();
    let scan_rules = scanning
        .map(|s| {
            s.rules()
                .iter()
                .map(|r| {
                    (
                        r.scan_frequency().as_str().to_string(),
                        r.repository_filters()
                            .iter()
                            .map(|f| f.filter().to_string())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let policy = ecr
        .get_registry_policy()
        .send()
        .await
        .ok()
        .and_then(|p| p.policy_text().map(policy::normalize_text));
    Ok(Registry {
        replication,
        scan_type,
        scan_rules,
        policy,
    })
}

/// ECR's defaults: what a reset leaves.
fn defaults() -> Registry {
    Registry {
        replication: vec![],
        scan_type: "BASIC".into(),
        scan_rules: vec![],
        policy: None,
    }
}

fn registry_policy(region: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ReplicationFromPeer",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
            "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
            "Resource": format!("arn:aws:ecr:{region}:{ACCOUNT}:repository/*"),
        }]
    })
}

fn scanning(scan_type: &str, frequency: &str, filter: &str) -> Value {
    json!({
        "scanType": scan_type,
        "rules": [{"scanFrequency": frequency, "repositoryFilters": [{"filter": filter, "filterType": "WILDCARD"}]}],
    })
}

/// Waits until moto's registry in this region is `want`.
async fn wait_registry(
    env: &TestEnv,
    ecr: &aws_sdk_ecr::Client,
    what: &str,
    want: &Registry,
) -> Result<()> {
    env.wait_for(what, || async {
        let have = registry(ecr).await?;
        ensure!(&have == want, "registry is {have:?}");
        Ok(Some(()))
    })
    .await
}

#[tokio::test]
async fn registry_settings_converge_drift_is_undone_and_delete_resets_them() -> Result<()> {
    let env = TestEnv::new("ecrreg").await?;
    let region = "eu-west-3";
    let ecr = ecr_in(region).await;
    let name = unique("registry");
    let spec = json!({
        "region": region,
        "deletionPolicy": "Delete",
        "replicationConfiguration": {"rules": [{
            "destinations": [{"region": "us-west-2", "registryId": ACCOUNT}],
            "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}],
        }]},
        "scanningConfiguration": scanning("ENHANCED", "SCAN_ON_PUSH", "prod-*"),
        "registryPolicy": registry_policy(region),
    });
    env.apply::<EcrRegistry>(&manifest("EcrRegistry", &name, &spec))
        .await?;
    env.wait_condition::<EcrRegistry>(&name, "Ready", "True", None)
        .await?;
    let obj = env
        .wait_condition::<EcrRegistry>(&name, "Synced", "True", None)
        .await?;
    let want = Registry {
        replication: vec![(vec!["us-west-2".into()], vec!["prod".into()])],
        scan_type: "ENHANCED".into(),
        scan_rules: vec![("SCAN_ON_PUSH".into(), vec!["prod-*".into()])],
        policy: Some(policy::normalize(&registry_policy(region))),
    };
    ensure!(
        registry(&ecr).await? == want,
        "AWS after create: {:?}",
        registry(&ecr).await?
    );
    let status = obj.status.clone().unwrap_or_default();
    ensure!(
        status.registry_id.as_deref() == Some(ACCOUNT),
        "status: {status:?}"
    );
    ensure!(
        status.replication_rules == Some(1) && status.scan_type.as_deref() == Some("ENHANCED"),
        "status: {status:?}"
    );
    ensure!(
        status.registry_policy_set == Some(true),
        "status: {status:?}"
    );
    // The printer columns tell the story.
    let out = env.kubectl(&["get", "ecrregistries", &name]).await?;
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    for column in ["REGISTRY", "REPLICATION", "SCAN", ACCOUNT, "ENHANCED"] {
        ensure!(
            table.contains(column),
            "kubectl get lacks {column}:\n{table}"
        );
    }

    // Someone changes the registry behind the operator's back: the next resync restores it.
    ecr.put_registry_scanning_configuration()
        .scan_type(ScanType::Basic)
        .set_rules(Some(vec![]))
        .send()
        .await?;
    ecr.delete_registry_policy().send().await?;
    wait_registry(&env, &ecr, "drift to be undone", &want).await?;

    // A spec change: replication off (empty rule list), scanning continuous for everything.
    let mut changed = spec.clone();
    changed["replicationConfiguration"] = json!({"rules": []});
    changed["scanningConfiguration"] = scanning("ENHANCED", "CONTINUOUS_SCAN", "*");
    env.apply::<EcrRegistry>(&manifest("EcrRegistry", &name, &changed))
        .await?;
    let want_changed = Registry {
        replication: vec![],
        scan_rules: vec![("CONTINUOUS_SCAN".into(), vec!["*".into()])],
        ..want
    };
    wait_registry(&env, &ecr, "the spec change", &want_changed).await?;
    env.wait_condition::<EcrRegistry>(&name, "Synced", "True", None)
        .await?;

    // Deleting the owner with deletionPolicy Delete resets what it managed.
    env.delete::<EcrRegistry>(&name).await?;
    env.wait_gone::<EcrRegistry>(&name).await?;
    ensure!(
        registry(&ecr).await? == defaults(),
        "AWS after delete: {:?}",
        registry(&ecr).await?
    );
    env.cleanup::<EcrRegistry>().await
}

#[tokio::test]
async fn only_the_oldest_object_owns_a_registry_and_the_next_takes_over() -> Result<()> {
    let env = TestEnv::new("ecrreg-own").await?;
    let region = "ap-southeast-2";
    let ecr = ecr_in(region).await;
    let first = unique("first");
    let second = unique("second");
    let third = unique("third");
    let spec_of = |frequency: &str, filter: &str| json!({"region": region, "deletionPolicy": "Delete", "scanningConfiguration": scanning("BASIC", frequency, filter)});
    env.apply::<EcrRegistry>(&manifest(
        "EcrRegistry",
        &first,
        &spec_of("SCAN_ON_PUSH", "first-*"),
    ))
    .await?;
    env.wait_condition::<EcrRegistry>(&first, "Synced", "True", None)
        .await?;
    let firsts = Registry {
        scan_rules: vec![("SCAN_ON_PUSH".into(), vec!["first-*".into()])],
        ..defaults()
    };
    ensure!(registry(&ecr).await? == firsts);

    // A second object for the same registry is refused and changes nothing.
    env.apply::<EcrRegistry>(&manifest(
        "EcrRegistry",
        &second,
        &spec_of("SCAN_ON_PUSH", "second-*"),
    ))
    .await?;
    let refused = env
        .wait_condition::<EcrRegistry>(&second, "Synced", "False", Some("OwnedByAnother"))
        .await?;
    let message = condition_message(&refused, "Synced");
    ensure!(
        message.contains(&first),
        "the refusal names the owner: {message}"
    );
    ensure!(
        registry(&ecr).await? == firsts,
        "AWS changed by a non-owner: {:?}",
        registry(&ecr).await?
    );

    // Deleting a non-owner (even with deletionPolicy Delete) leaves the registry alone.
    env.delete::<EcrRegistry>(&second).await?;
    env.wait_gone::<EcrRegistry>(&second).await?;
    ensure!(
        registry(&ecr).await? == firsts,
        "AWS changed by deleting a non-owner: {:?}",
        registry(&ecr).await?
    );

    // When the owner goes (and resets its settings), the next-oldest takes over.
    env.apply::<EcrRegistry>(&manifest(
        "EcrRegistry",
        &third,
        &spec_of("MANUAL", "third-*"),
    ))
    .await?;
    env.wait_condition::<EcrRegistry>(&third, "Synced", "False", Some("OwnedByAnother"))
        .await?;
    env.delete::<EcrRegistry>(&first).await?;
    env.wait_gone::<EcrRegistry>(&first).await?;
    env.wait_condition::<EcrRegistry>(&third, "Synced", "True", None)
        .await?;
    let thirds = Registry {
        scan_rules: vec![(
            ScanFrequency::Manual.as_str().into(),
            vec!["third-*".into()],
        )],
        ..defaults()
    };
    wait_registry(&env, &ecr, "the new owner's settings", &thirds).await?;
    env.delete::<EcrRegistry>(&third).await?;
    env.wait_gone::<EcrRegistry>(&third).await?;
    ensure!(registry(&ecr).await? == defaults());
    env.cleanup::<EcrRegistry>().await
}

/// README (EcrRegistry): "When the owner is deleted, the next-oldest takes over (a watch wakes
/// it)." The operator runs with a 300 s resync and the owner is deleted once the waiting
/// object's backoff has reached 16 s: a take-over within a few seconds of the owner going can
/// only come from the watch.
#[tokio::test]
async fn take_over_is_woken_by_the_owners_deletion() -> Result<()> {
    let mut env = TestEnv::new("ecrreg-wake").await?;
    env.restart_operator_with_resync(300)?;
    let region = "eu-south-1";
    let ecr = ecr_in(region).await;
    let (owner, next) = (unique("owner"), unique("next"));
    let spec_of = |filter: &str| json!({"region": region, "deletionPolicy": "Delete", "scanningConfiguration": scanning("BASIC", "MANUAL", filter)});
    env.apply::<EcrRegistry>(&manifest("EcrRegistry", &owner, &spec_of("owner-*")))
        .await?;
    env.wait_condition::<EcrRegistry>(&owner, "Synced", "True", None)
        .await?;
    env.apply::<EcrRegistry>(&manifest("EcrRegistry", &next, &spec_of("next-*")))
        .await?;
    env.wait_condition::<EcrRegistry>(&next, "Synced", "False", Some("OwnedByAnother"))
        .await?;
    // Four refusals in a row: the next retry of the backoff (2, 4, 8, 16 s) is 16 s away.
    env.wait_reconcile_errors(&next, 4).await?;
    env.delete::<EcrRegistry>(&owner).await?;
    env.wait_gone::<EcrRegistry>(&owner).await?;
    let gone = std::time::Instant::now();
    env.wait_condition::<EcrRegistry>(&next, "Synced", "True", None)
        .await?;
    let took = gone.elapsed();
    ensure!(
        took < std::time::Duration::from_secs(6),
        "took over {took:?} after the owner went, as late as the backoff"
    );
    let nexts = Registry {
        scan_rules: vec![("MANUAL".into(), vec!["next-*".into()])],
        ..defaults()
    };
    wait_registry(&env, &ecr, "the new owner's settings", &nexts).await?;
    env.delete::<EcrRegistry>(&next).await?;
    env.wait_gone::<EcrRegistry>(&next).await?;
    ensure!(registry(&ecr).await? == defaults());
    env.cleanup::<EcrRegistry>().await
}

#[tokio::test]
async fn deleting_with_retain_leaves_the_registry_settings() -> Result<()> {
    let env = TestEnv::new("ecrreg-retain").await?;
    let region = "ca-central-1";
    let ecr = ecr_in(region).await;
    let name = unique("kept");
    let spec = json!({
        "region": region,
        "deletionPolicy": "Retain",
        "scanningConfiguration": scanning("ENHANCED", "CONTINUOUS_SCAN", "*"),
        "registryPolicy": registry_policy(region),
    });
    env.apply::<EcrRegistry>(&manifest("EcrRegistry", &name, &spec))
        .await?;
    env.wait_condition::<EcrRegistry>(&name, "Synced", "True", None)
        .await?;
    let want = Registry {
        scan_type: "ENHANCED".into(),
        scan_rules: vec![("CONTINUOUS_SCAN".into(), vec!["*".into()])],
        policy: Some(policy::normalize(&registry_policy(region))),
        ..defaults()
    };
    ensure!(registry(&ecr).await? == want);
    env.delete::<EcrRegistry>(&name).await?;
    env.wait_gone::<EcrRegistry>(&name).await?;
    ensure!(
        registry(&ecr).await? == want,
        "Retain changed AWS: {:?}",
        registry(&ecr).await?
    );
    // Leave the region as the other runs expect it.
    ecr.put_registry_scanning_configuration()
        .scan_type(ScanType::Basic)
        .set_rules(Some(vec![]))
        .send()
        .await?;
    ecr.delete_registry_policy().send().await?;
    env.cleanup::<EcrRegistry>().await
}

#[tokio::test]
async fn an_observe_only_object_never_owns_or_writes() -> Result<()> {
    let env = TestEnv::new("ecrreg-observe").await?;
    let region = "sa-east-1";
    let ecr = ecr_in(region).await;
    let watcher = unique("watcher");
    let owner = unique("owner");
    // Older, but observe-only: it mirrors and never takes the registry.
    let observe = json!({"region": region, "managementPolicy": "ObserveOnly", "deletionPolicy": "Delete",
        "scanningConfiguration": scanning("ENHANCED", "CONTINUOUS_SCAN", "*")});
    env.apply::<EcrRegistry>(&manifest("EcrRegistry", &watcher, &observe))
        .await?;
    env.wait_condition::<EcrRegistry>(&watcher, "Synced", "True", Some("ObserveOnly"))
        .await?;
    ensure!(
        registry(&ecr).await? == defaults(),
        "observe-only wrote to AWS"
    );
    let full = json!({"region": region, "deletionPolicy": "Delete",
        "scanningConfiguration": scanning("BASIC", "SCAN_ON_PUSH", "app-*")});
    env.apply::<EcrRegistry>(&manifest("EcrRegistry", &owner, &full))
        .await?;
    env.wait_condition::<EcrRegistry>(&owner, "Synced", "True", Some("ReconcileSuccess"))
        .await?;
    let owners = Registry {
        scan_rules: vec![("SCAN_ON_PUSH".into(), vec!["app-*".into()])],
        ..defaults()
    };
    ensure!(
        registry(&ecr).await? == owners,
        "{:?}",
        registry(&ecr).await?
    );
    // The observer reports the difference and changes nothing; deleting it touches nothing.
    let seen = env
        .wait_for("the observer to see the owner's settings", || async {
            let o = env.api::<EcrRegistry>().get(&watcher).await?;
            let m = condition_message(&o, "Synced");
            Ok(m.contains("differs").then_some(m))
        })
        .await?;
    ensure!(seen.contains("scanning"), "{seen}");
    env.delete::<EcrRegistry>(&watcher).await?;
    env.wait_gone::<EcrRegistry>(&watcher).await?;
    ensure!(
        registry(&ecr).await? == owners,
        "deleting an observer changed AWS"
    );
    env.delete::<EcrRegistry>(&owner).await?;
    env.wait_gone::<EcrRegistry>(&owner).await?;
    ensure!(registry(&ecr).await? == defaults());
    env.cleanup::<EcrRegistry>().await
}
