//! Client-side pacing (src/aws/pacing.rs) against the fault proxy's emulated AWS token buckets.

use std::time::Duration;

use anyhow::{Result, anyhow, ensure};
use e2e::fault::{FaultConfig, FaultProxy, total};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::task_definition::TaskDefinition;
use kube::api::ListParams;
use serde_json::json;

/// TaskDefinitions created at once: 20 more than the task-definition-modify burst.
const N: usize = 40;
/// The bucket the test's model of AWS (e2e::fault::bucket_for) puts RegisterTaskDefinition in.
const BURST: usize = 20;
const REFILL_PER_S: f64 = 1.0;

/// Ready=True at the current generation, of every TaskDefinition in the namespace.
async fn ready_count(env: &TestEnv) -> Result<usize> {
    let list = env
        .api::<TaskDefinition>()
        .list(&ListParams::default())
        .await?;
    Ok(list
        .items
        .iter()
        .filter(|td| {
            let generation = td.metadata.generation;
            td.status.as_ref().is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == "Ready"
                        && format!("{:?}", c.status) == "True"
                        && c.observed_generation == generation
                })
            })
        })
        .count())
}

/// 40 TaskDefinitions behind AWS's buckets: the operator paces RegisterTaskDefinition (20 burst,
/// 1 per second), so AWS throttles none of its calls, and the registers finish at the bucket
/// bound ((N - 20) / 1 s), not slower.
#[tokio::test]
async fn converging_past_the_burst_is_never_throttled_and_keeps_the_bucket_rate() -> Result<()> {
    let mut env = TestEnv::new("pacing").await?;
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        buckets: true,
        record: true,
        ..FaultConfig::default()
    })
    .await?;
    let url = proxy.url();
    env.restart_operator(env.operator().envs(&[("AWS_ENDPOINT_URL", &url)]))?;

    let prefix = unique("paced");
    for i in 0..N {
        let spec = json!({
            "family": format!("{prefix}-{i}"),
            "containerDefinitions": [{"name": "app", "image": "nginx:1", "memory": 64}]
        });
        env.apply::<TaskDefinition>(&manifest("TaskDefinition", &format!("td-{i}"), &spec))
            .await?;
    }
    env.wait_for("every TaskDefinition Ready", || async {
        Ok((ready_count(&env).await? == N).then_some(()))
    })
    .await?;

    let counts = proxy.counts();
    let register = counts
        .get("ecs:RegisterTaskDefinition")
        .cloned()
        .unwrap_or_default();
    ensure!(
        register.bucket_throttled == 0 && register.forwarded as usize >= N,
        "RegisterTaskDefinition throttled by AWS's bucket: {register:?}\n{}",
        env.operator_log()
    );
    let throttled = total(&counts, |c| c.bucket_throttled);
    ensure!(throttled == 0, "throttled calls: {counts:#?}");

    let registers: Vec<Duration> = proxy
        .recorded()
        .iter()
        .filter(|r| r.action == "RegisterTaskDefinition")
        .map(|r| r.at)
        .collect();
    let (first, last) = registers
        .first()
        .zip(registers.last())
        .ok_or_else(|| anyhow!("no RegisterTaskDefinition recorded"))?;
    let span = (*last - *first).as_secs_f64();
    let bound = (N - BURST) as f64 / REFILL_PER_S;
    println!(
        "{} RegisterTaskDefinition in {span:.1} s (bound {bound} s, ratio {:.2}); {register:?}",
        registers.len(),
        span / bound
    );
    ensure!(
        span <= 1.3 * bound,
        "{} registers took {span:.1} s from first to last: more than 1.3 x the bucket bound {bound} s",
        registers.len()
    );

    // The wait is reported per bucket category.
    let addr = env.metrics_addr().await?;
    let (_, text) = e2e::operator::http_get(addr, "/metrics").await?;
    let paced = e2e::operator::metric_value(
        &text,
        "ecs_operator_aws_paced_seconds_total",
        &[("category", "ecs:task-definition-modify")],
    );
    ensure!(
        paced >= bound / 2.0,
        "paced {paced} s on task-definition-modify (bound {bound} s)\n{text}"
    );
    env.cleanup::<TaskDefinition>().await
}
