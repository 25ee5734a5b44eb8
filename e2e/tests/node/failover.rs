//! Two replicas of the chart on the node bed: deleting the leader pod hands leadership to the
//! standby, and SIGKILLing the leader's container gets a live leader again (the standby or the
//! restarted container), each within twice the lease duration; reconciling resumes, and the
//! replicas' logs show no two of them reconciled at the same time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use e2e::node::{
    Follower, Release, assert_one_reconciler, container_id, follow, lease_holder as holder,
    lease_holder_identity as holder_identity, operator_pods, pod_logs, pod_name, pod_ready,
    poll_until,
};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::EcrRepository;
use ecs_operator::runtime::leader::pod_of_identity;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use serde_json::json;

const LEASE_SECONDS: u64 = 10;

#[tokio::test]
async fn standby_takes_over_on_pod_delete_and_on_sigkill_without_overlap() -> Result<()> {
    let mut env = TestEnv::new("node-lead").await?;
    env.stop_operator(); // the operator under test is the chart's pod
    let rel = Release::prepare(&env.client, "lead").await?;
    rel.finish(failover(&rel, &env).await).await?;
    env.cleanup::<EcrRepository>().await
}

async fn failover(rel: &Release, env: &TestEnv) -> Result<()> {
    let Release {
        bed,
        name: release,
        namespace: release_ns,
        ..
    } = rel;
    rel.install(&[
        ("watchNamespace", json!(env.namespace)),
        ("replicas", json!(2)),
        (
            "leaderElection",
            json!({"enabled": true, "leaseSeconds": LEASE_SECONDS}),
        ),
    ])
    .await?;
    let lease_name = format!("{release}-ecs-operator-leader");
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), release_ns);
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), release_ns);
    let mut followers: BTreeMap<String, Follower> = BTreeMap::new();
    let mut previous: BTreeMap<String, String> = BTreeMap::new();
    let limit = Duration::from_secs(2 * LEASE_SECONDS);

    let first = poll_until("a leader", Duration::from_secs(60), || async {
        holder(&leases, &lease_name).await
    })
    .await?;
    for pod in operator_pods(&env.client, release_ns, release).await? {
        followers.insert(pod_name(&pod), follow(release_ns, &pod_name(&pod))?);
    }
    ensure!(followers.len() == 2, "pods: {:?}", followers.keys());
    apply_repo(env, "before").await?;

    // 1. Delete the leader pod: the other replica takes over.
    let start = Instant::now();
    pods.delete(&first, &DeleteParams::default()).await?;
    let second = poll_until("a new leader after pod delete", limit, || async {
        Ok(holder(&leases, &lease_name).await?.filter(|h| *h != first))
    })
    .await?;
    let took = start.elapsed();
    eprintln!("pod delete: {second} led {took:?} after {first} was deleted");
    // The new leader is the standby or the ReplicaSet's replacement (whichever got the
    // released Lease first); the other one is now the standby.
    let standby = poll_until("a Ready standby", Duration::from_secs(60), || async {
        Ok(operator_pods(&env.client, release_ns, release)
            .await?
            .into_iter()
            .find(|p| pod_name(p) != first && pod_name(p) != second && pod_ready(p)))
    })
    .await?;
    let third = pod_name(&standby);
    for name in [&second, &third] {
        if !followers.contains_key(name) {
            followers.insert(name.clone(), follow(release_ns, name)?);
        }
    }
    apply_repo(env, "after-delete").await?;

    // 2. SIGKILL the leader's container (no chance to release the Lease).
    // The kubelet may not have reported the container's ID yet when the pod has just led.
    let id = poll_until(
        "the leader's container ID",
        Duration::from_secs(30),
        || async { Ok(container_id(&pods.get(&second).await?)) },
    )
    .await?;
    let killed = holder_identity(&leases, &lease_name)
        .await?
        .context("lease without holder before SIGKILL")?;
    let start = Instant::now();
    bed.ctr(&["tasks", "kill", "--signal", "SIGKILL", &id])
        .await?;
    // A new process must take the Lease: the standby, or the killed pod's restarted container,
    // which has a new identity (same pod name, new process start) and so had to wait for the
    // dead process's Lease to expire like the standby did.
    let after_kill = poll_until("leadership after SIGKILL", limit, || async {
        Ok(holder_identity(&leases, &lease_name)
            .await?
            .filter(|h| *h != killed))
    })
    .await?;
    let took = start.elapsed();
    let after_kill_pod = pod_of_identity(&after_kill).to_string();
    apply_repo(env, "after-kill").await?;
    eprintln!("SIGKILL: {after_kill} leads {took:?} after {killed} was killed");
    ensure!(
        after_kill_pod == third || (after_kill_pod == second && restarted(&pods, &second).await?),
        "{after_kill} leads after SIGKILL: neither the standby {third} nor the restarted {second}"
    );

    // Evidence: nobody reconciled while another replica did.
    tokio::time::sleep(Duration::from_secs(2)).await;
    previous.insert(
        format!("{second} (killed)"),
        pod_logs(release_ns, &second, true)
            .await
            .unwrap_or_default(),
    );
    let mut logs = BTreeMap::new();
    for (name, mut f) in followers {
        let _ = f.child.start_kill();
        let _ = f.child.wait().await;
        let text = std::fs::read_to_string(&f.path).unwrap_or_default();
        let _ = std::fs::remove_file(&f.path);
        if name == second {
            // The follower of the killed pod may have continued into the restarted container;
            // the restarted one's own log comes next.
            logs.insert(
                format!("{name} (restarted)"),
                pod_logs(release_ns, &name, false).await.unwrap_or_default(),
            );
            continue;
        }
        logs.insert(name, text);
    }
    logs.extend(previous);
    assert_one_reconciler(&logs)
}

async fn restarted(pods: &Api<Pod>, name: &str) -> Result<bool> {
    let pod = pods.get(name).await?;
    Ok(e2e::node::restarts(&pod) > 0)
}

async fn apply_repo(env: &TestEnv, name: &str) -> Result<()> {
    let repo = unique(&format!("node-lead-{name}"));
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        name,
        &json!({"repositoryName": repo}),
    ))
    .await?;
    env.wait_condition::<EcrRepository>(name, "Ready", "True", None)
        .await?;
    if env
        .ecr
        .describe_repositories()
        .repository_names(&repo)
        .send()
        .await?
        .repositories()
        .is_empty()
    {
        bail!("{repo} not in AWS");
    }
    Ok(())
}
