//! An EcsService's gateway routes: what `status.gatewayRoutes` / `status.gatewayUrl` show, and
//! when they are read. A service with `gatewayConnectors` gets a route (with its own URL) on
//! each gateway associated with its cluster; `gatewayRef` narrows the status to the route
//! through that gateway.
//!
//! Routes cost 1 + n calls (ListGatewayRoutes, then DescribeGatewayRoute for the URL), so they
//! are read only when they may have changed ([`should_read`]): a service without connectors
//! reads none; otherwise after a spec change, during a rollout, on the refresh annotation, and
//! while the last read found no route or a route that is not ACTIVE with a URL. Between reads
//! the status keeps the last answer.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{GatewayRoute, GatewayRouteSummary};

use crate::api::ecs_service::{EcsService, GatewayRouteStatus};
use crate::aws::errors::{AwsError, OrAbsent, from_sdk};

/// What the service's last status shows, and what this reconcile knows.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadWhen<'a> {
    pub has_connectors: bool,
    /// The routes the status shows (`None`: never read).
    pub previous: Option<&'a [GatewayRouteStatus]>,
    /// metadata.generation differs from status.observedGeneration (the spec changed).
    pub spec_changed: bool,
    /// The `ecs.operator.dev/refresh` annotation asks for a fresh read.
    pub refresh: bool,
    /// A rollout is in flight (a new deployment may bring new routes).
    pub rollout: bool,
}

/// Pure: whether this reconcile reads the routes.
pub fn should_read(w: ReadWhen<'_>) -> bool {
    if !w.has_connectors {
        return false;
    }
    let settled = w.previous.is_some_and(|routes| {
        !routes.is_empty()
            && routes
                .iter()
                .all(|r| r.status.as_deref() == Some("ACTIVE") && r.service_url.is_some())
    });
    w.refresh || w.spec_changed || w.rollout || !settled
}

/// Pure: a route as the status shows it.
pub fn route_status(
    summary: &GatewayRouteSummary,
    route: Option<&GatewayRoute>,
) -> Option<GatewayRouteStatus> {
    Some(GatewayRouteStatus {
        gateway_route_arn: summary.gateway_route_arn.clone()?,
        gateway_arn: summary.gateway_arn.clone(),
        port_name: summary.service_container_port_name.clone(),
        status: route
            .and_then(|r| r.status.as_ref())
            .or(summary.status.as_ref())
            .map(|s| s.as_str().to_string()),
        service_url: route.and_then(|r| r.service_url.clone()),
    })
}

/// Pure: `gatewayRoutes` and `gatewayUrl` for the status. `read`: this reconcile's routes
/// (`None`: not read, the status keeps its own). Without connectors both go away (null).
pub fn status_fields(
    obj: &EcsService,
    read: Option<&Vec<GatewayRouteStatus>>,
) -> (Option<Vec<GatewayRouteStatus>>, Option<String>) {
    let previous = obj.status.as_ref().and_then(|s| s.gateway_routes.as_ref());
    let routes = if obj.spec.gateway_connectors.is_some() {
        read.or(previous).cloned()
    } else {
        None
    };
    let url = routes.as_ref().and_then(|rs| {
        rs.iter()
            .find(|r| r.status.as_deref() == Some("ACTIVE"))
            .and_then(|r| r.service_url.clone())
    });
    (routes, url)
}

/// Reads the routes of `service_arn` (through `gateway_arn` only, when given), when
/// [`should_read`] says so.
pub async fn observe(
    client: &Client,
    obj: &EcsService,
    service_arn: Option<&str>,
    gateway_arn: Option<&str>,
    rollout: bool,
) -> Result<Option<Vec<GatewayRouteStatus>>, AwsError> {
    let status = obj.status.as_ref();
    let when = ReadWhen {
        has_connectors: obj.spec.gateway_connectors.is_some(),
        previous: status.and_then(|s| s.gateway_routes.as_deref()),
        spec_changed: obj.metadata.generation != status.and_then(|s| s.observed_generation),
        refresh: crate::engine::Managed::refresh_requested(obj),
        rollout,
    };
    let Some(service_arn) = service_arn.filter(|_| should_read(when)) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for summary in list(client, service_arn, gateway_arn).await? {
        let route = match &summary.gateway_route_arn {
            Some(arn) => describe(client, arn).await?,
            None => None,
        };
        out.extend(route_status(&summary, route.as_ref()));
    }
    Ok(Some(out))
}

/// ListGatewayRoutes of one service (and gateway), every page.
async fn list(
    client: &Client,
    service_arn: &str,
    gateway_arn: Option<&str>,
) -> Result<Vec<GatewayRouteSummary>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_gateway_routes()
            .service(service_arn)
            .set_gateway(gateway_arn.map(str::to_string))
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| from_sdk("ListGatewayRoutes", e))?;
        out.extend(page.gateway_routes.unwrap_or_default());
        token = page.next_token;
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// DescribeGatewayRoute; `None` when the route is gone.
async fn describe(client: &Client, arn: &str) -> Result<Option<GatewayRoute>, AwsError> {
    let out = client
        .describe_gateway_route()
        .gateway_route_arn(arn)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeGatewayRoute", e))
        .or_absent()?;
    Ok(out.and_then(|o| o.gateway_route))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(status: &str, url: Option<&str>) -> GatewayRouteStatus {
        GatewayRouteStatus {
            gateway_route_arn: "arn:route".into(),
            status: Some(status.into()),
            service_url: url.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn should_read_table() {
        let active = [route("ACTIVE", Some("https://x"))];
        let creating = [route("CREATE_IN_PROGRESS", None)];
        let base = ReadWhen {
            has_connectors: true,
            previous: Some(&active),
            ..Default::default()
        };
        let cases: Vec<(&str, ReadWhen<'_>, bool)> = vec![
            ("settled: kept", base, false),
            (
                "no connectors: never",
                ReadWhen {
                    has_connectors: false,
                    refresh: true,
                    ..base
                },
                false,
            ),
            (
                "never read",
                ReadWhen {
                    previous: None,
                    ..base
                },
                true,
            ),
            (
                "no route yet",
                ReadWhen {
                    previous: Some(&[]),
                    ..base
                },
                true,
            ),
            (
                "route not active",
                ReadWhen {
                    previous: Some(&creating),
                    ..base
                },
                true,
            ),
            (
                "spec changed",
                ReadWhen {
                    spec_changed: true,
                    ..base
                },
                true,
            ),
            (
                "refresh",
                ReadWhen {
                    refresh: true,
                    ..base
                },
                true,
            ),
            (
                "rollout",
                ReadWhen {
                    rollout: true,
                    ..base
                },
                true,
            ),
        ];
        for (name, when, want) in cases {
            assert_eq!(should_read(when), want, "{name}");
        }
    }

    #[test]
    fn status_keeps_the_last_read_and_drops_without_connectors() {
        let mut obj = EcsService::new("s", Default::default());
        obj.spec.gateway_connectors = Some(vec![Default::default()]);
        obj.status = Some(crate::api::ecs_service::EcsServiceStatus {
            gateway_routes: Some(vec![route("ACTIVE", Some("https://old"))]),
            ..Default::default()
        });
        let kept = status_fields(&obj, None);
        assert_eq!(kept.1.as_deref(), Some("https://old"));
        let read = vec![
            route("CREATE_IN_PROGRESS", None),
            route("ACTIVE", Some("https://new")),
        ];
        let fresh = status_fields(&obj, Some(&read));
        assert_eq!(fresh.1.as_deref(), Some("https://new"));
        assert_eq!(fresh.0.as_ref().map(Vec::len), Some(2));
        obj.spec.gateway_connectors = None;
        let gone = status_fields(&obj, Some(&read));
        assert!(gone.0.is_none() && gone.1.is_none());
    }
}
