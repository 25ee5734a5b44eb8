//! AWS error classification: throttled, retryable, terminal or not-found.

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};

/// How the engine should react to an AWS error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Rate limited: retry with backoff.
    Throttled,
    /// Transient (network, 5xx, conflicting operation in progress): retry with backoff.
    Retryable,
    /// The request itself is wrong (validation, limits, permissions): do not retry until the spec changes.
    Terminal,
    /// The resource does not exist.
    NotFound,
}

/// An AWS call that failed, with the operation, the AWS error code and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation}: {}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct AwsError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub class: ErrorClass,
}

impl AwsError {
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
    pub fn is_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }
    /// A terminal error raised by our own mapping (no AWS call made).
    pub fn terminal(operation: &'static str, code: &str, message: impl Into<String>) -> Self {
        Self {
            operation,
            code: Some(code.to_string()),
            message: message.into(),
            class: ErrorClass::Terminal,
        }
    }
}

const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

const RETRYABLE: &[&str] = &[
    "ServerException",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "UpdateInProgressException",
    "ResourceInUseException",
    "ClusterContainsServicesException",
    "ClusterContainsTasksException",
    "ClusterContainsContainerInstancesException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Classifies an AWS error code (and HTTP status, when known). Pure: unit-tested.
pub fn classify_code(code: Option<&str>, http_status: Option<u16>) -> ErrorClass {
    match code {
        Some(c) if THROTTLING.contains(&c) => ErrorClass::Throttled,
        Some(c) if RETRYABLE.contains(&c) => ErrorClass::Retryable,
        Some(c) if c.ends_with("NotFoundException") || c.ends_with("NotFound") => {
            ErrorClass::NotFound
        }
        _ => match http_status {
            Some(429) => ErrorClass::Throttled,
            Some(s) if s >= 500 => ErrorClass::Retryable,
            Some(s) if (400..500).contains(&s) => ErrorClass::Terminal,
            // No code and no status: a malformed or unexpected answer; retry rather than give up.
            _ => ErrorClass::Retryable,
        },
    }
}

/// Converts an SDK error of any ECR/ECS operation into an [`AwsError`].
pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let status = service.raw().http_status();
            let code = e.code().map(str::to_string);
            AwsError {
                operation,
                class: classify_code(code.as_deref(), status),
                message: e
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string()),
                code,
            }
        }
        SdkError::ConstructionFailure(_) => AwsError {
            operation,
            code: Some("RequestConstructionFailed".into()),
            message: format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            ),
            class: ErrorClass::Terminal,
        },
        _ => AwsError {
            operation,
            code: None,
            message: format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            ),
            class: ErrorClass::Retryable,
        },
    }
}

/// The HTTP status of a raw response (abstracts over the SDK's response type).
pub trait HttpStatus {
    fn http_status(&self) -> Option<u16>;
}

impl HttpStatus for aws_sdk_ecr::config::http::HttpResponse {
    fn http_status(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        let cases: &[(Option<&str>, Option<u16>, ErrorClass)] = &[
            (
                Some("ThrottlingException"),
                Some(400),
                ErrorClass::Throttled,
            ),
            (None, Some(429), ErrorClass::Throttled),
            (Some("ServerException"), Some(500), ErrorClass::Retryable),
            (None, Some(503), ErrorClass::Retryable),
            (
                Some("RepositoryNotFoundException"),
                Some(400),
                ErrorClass::NotFound,
            ),
            (
                Some("LifecyclePolicyNotFoundException"),
                Some(400),
                ErrorClass::NotFound,
            ),
            (
                Some("InvalidParameterException"),
                Some(400),
                ErrorClass::Terminal,
            ),
            (Some("ValidationException"), Some(400), ErrorClass::Terminal),
            (
                Some("AccessDeniedException"),
                Some(403),
                ErrorClass::Terminal,
            ),
            (
                Some("RepositoryNotEmptyException"),
                Some(400),
                ErrorClass::Terminal,
            ),
            (
                Some("UpdateInProgressException"),
                Some(400),
                ErrorClass::Retryable,
            ),
            (None, None, ErrorClass::Retryable),
        ];
        for (code, status, want) in cases {
            assert_eq!(classify_code(*code, *status), *want, "{code:?} {status:?}");
        }
    }

    #[test]
    fn display_includes_operation_code_and_message() {
        let e = AwsError::terminal("CreateRepository", "InvalidParameterException", "bad name");
        assert_eq!(
            e.to_string(),
            "CreateRepository: InvalidParameterException: bad name"
        );
    }
}
