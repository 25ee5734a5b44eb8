//! Counts every AWS API call into the runtime metrics, as an SDK interceptor attached to each
//! service client:
//! `aws_sdk_ecs::config::Builder::from(&sdk_config).interceptor(call_metrics::interceptor(metrics))`.
//!
//! One count per operation (what the operator called), after the SDK's own retries. The error
//! code comes from the final HTTP response, as the SDK's awsJson error parser reads it: the
//! `x-amzn-errortype` header, else the body's `__type` (or `code`), without the namespace
//! (`...#Code`) or URI suffix (`Code:http://...`). Failures without an AWS response are
//! labelled by kind: `Timeout`, `ConnectorError`, `ResponseError`, `InterceptorError`.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    Error as OperationError, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use std::sync::Arc;

use crate::runtime::metrics::Metrics;

/// SDK interceptor recording AWS calls and errors in the process's metrics.
#[derive(Clone, Debug)]
pub struct CallMetrics {
    metrics: Arc<Metrics>,
}

/// The interceptor to attach to every AWS service client.
pub fn interceptor(metrics: &Arc<Metrics>) -> CallMetrics {
    CallMetrics {
        metrics: metrics.clone(),
    }
}

impl Intercept for CallMetrics {
    fn name(&self) -> &'static str {
        "CallMetrics"
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_ascii_lowercase(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let error = match context.output_or_error() {
            Some(Err(err)) => Some(error_code(context.response(), err)),
            _ => None,
        };
        record(&self.metrics, &service, &operation, error.as_deref());
        Ok(())
    }
}

fn record(metrics: &Metrics, service: &str, operation: &str, error: Option<&str>) {
    metrics.count_aws_call(service, operation);
    if let Some(code) = error {
        metrics.count_aws_error(service, operation, code);
    }
}

fn error_code(response: Option<&HttpResponse>, err: &OrchestratorError<OperationError>) -> String {
    if let Some(code) = response
        .and_then(|r| code_from_response(r.headers().get("x-amzn-errortype"), r.body().bytes()))
    {
        return code;
    }
    let kind = if err.is_timeout_error() {
        "Timeout"
    } else if err.is_connector_error() {
        "ConnectorError"
    } else if err.is_response_error() {
        "ResponseError"
    } else if err.is_interceptor_error() {
        "InterceptorError"
    } else {
        match response {
            Some(r) => return format!("HTTP{}", r.status().as_u16()),
            None => "Unknown",
        }
    };
    kind.into()
}

/// The AWS error code of a JSON-protocol error response, if it names one.
pub(crate) fn code_from_response(header: Option<&str>, body: Option<&[u8]>) -> Option<String> {
    let raw = header.map(str::to_string).or_else(|| {
        let json: serde_json::Value = serde_json::from_slice(body?).ok()?;
        ["__type", "code"]
            .iter()
            .find_map(|k| json.get(*k).and_then(|v| v.as_str()).map(str::to_string))
    })?;
    let code = raw.split(':').next().unwrap_or(&raw);
    let code = code.rsplit('#').next().unwrap_or(code).trim();
    (!code.is_empty()).then(|| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_from_header_or_body() {
        let cases: [(Option<&str>, Option<&str>, Option<&str>); 7] = [
            (
                Some("RepositoryNotFoundException:http://internal.amazon.com/coral/"),
                None,
                Some("RepositoryNotFoundException"),
            ),
            (
                Some("ThrottlingException"),
                Some(r#"{"__type":"Other"}"#),
                Some("ThrottlingException"),
            ),
            (
                None,
                Some(r#"{"__type":"com.amazonaws.ecr#RepositoryNotFoundException","message":"m"}"#),
                Some("RepositoryNotFoundException"),
            ),
            (
                None,
                Some(r#"{"code":"ClientException"}"#),
                Some("ClientException"),
            ),
            (None, Some("<html>bad gateway</html>"), None),
            (None, Some(r#"{"message":"no type"}"#), None),
            (None, None, None),
        ];
        for (header, body, want) in cases {
            assert_eq!(
                code_from_response(header, body.map(str::as_bytes)).as_deref(),
                want,
                "{header:?} {body:?}"
            );
        }
    }

    #[test]
    fn records_calls_and_errors() {
        let m = Metrics::default();
        record(&m, "ecr", "CreateRepository", None);
        record(
            &m,
            "ecr",
            "DescribeRepositories",
            Some("RepositoryNotFoundException"),
        );
        let text = m.encode().expect("encodes");
        for want in [
            "ecs_operator_aws_calls_total{service=\"ecr\",operation=\"CreateRepository\"} 1",
            "ecs_operator_aws_calls_total{service=\"ecr\",operation=\"DescribeRepositories\"} 1",
            "ecs_operator_aws_call_errors_total{service=\"ecr\",operation=\"DescribeRepositories\",code=\"RepositoryNotFoundException\"} 1",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(
            !text.contains("operation=\"CreateRepository\",code"),
            "{text}"
        );
    }
}
