//! AWS error classification: throttled, retryable, terminal, environment or not-found.

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};

/// How the engine should react to an AWS error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Rate limited: retry with backoff.
    Throttled,
    /// Transient (network, 5xx, conflicting operation in progress): retry with backoff.
    Retryable,
    /// The request itself is wrong (validation, limits): do not retry until the spec changes.
    Terminal,
    /// Not the spec's fault: the operator's AWS identity lacks a permission, or its credentials
    /// are missing, unrecognised or expired. Retried slowly: fixing IAM heals it.
    Environment,
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

    /// AWS answered `operation` without `field`, which the caller cannot go on without (a
    /// create answer without the new resource's ARN). Retryable: after a create, the create
    /// record makes the next attempt look for what was made instead of creating again.
    pub fn incomplete(operation: &'static str, field: &str) -> Self {
        Self {
            operation,
            code: Some("IncompleteAnswer".to_string()),
            message: format!("AWS answered {operation} without {field}"),
            class: ErrorClass::Retryable,
        }
    }
}

/// `value`, or [`AwsError::incomplete`] when AWS left it out.
pub fn required<T>(value: Option<T>, operation: &'static str, field: &str) -> Result<T, AwsError> {
    value.ok_or_else(|| AwsError::incomplete(operation, field))
}

/// A call whose not-found answer is an outcome ("absent"), not a failure.
pub trait OrAbsent<T> {
    /// `Ok(None)` for a not-found error; other errors stay errors.
    fn or_absent(self) -> Result<Option<T>, AwsError>;
}

impl<T> OrAbsent<T> for Result<T, AwsError> {
    fn or_absent(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
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
    // Application Auto Scaling: another change to the same target is in flight.
    "ConcurrentUpdateException",
    "ResourceInUseException",
    "ClusterContainsServicesException",
    "ClusterContainsTasksException",
    "ClusterContainsContainerInstancesException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// A permission the identity lacks.
const ACCESS_DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "AuthorizationError",
    "NotAuthorized",
];

/// Credentials missing, unknown to AWS, expired, or signing with the wrong secret.
const CREDENTIALS: &[&str] = &[
    CREDENTIALS_ERROR,
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "InvalidAccessKeyId",
    "RequestExpired",
];

/// Code given to a failure to obtain credentials before any call (no AWS error code exists).
pub const CREDENTIALS_ERROR: &str = "CredentialsError";

/// Whether an environment error is about credentials (else: a missing permission).
pub fn is_credentials_code(code: Option<&str>) -> bool {
    code.is_some_and(|c| CREDENTIALS.contains(&c))
}

/// Classifies an AWS error code (and HTTP status, when known). Pure: unit-tested.
pub fn classify_code(code: Option<&str>, http_status: Option<u16>) -> ErrorClass {
    match code {
        Some(c) if THROTTLING.contains(&c) => ErrorClass::Throttled,
        Some(c) if RETRYABLE.contains(&c) => ErrorClass::Retryable,
        Some(c) if ACCESS_DENIED.contains(&c) || CREDENTIALS.contains(&c) => {
            ErrorClass::Environment
        }
        Some(c) if c.ends_with("NotFoundException") || c.ends_with("NotFound") => {
            ErrorClass::NotFound
        }
        _ => match http_status {
            Some(429) => ErrorClass::Throttled,
            Some(401 | 403) => ErrorClass::Environment,
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
    R: std::fmt::Debug + HttpStatus + 'static,
{
    if let SdkError::ServiceError(service) = &err {
        let e = service.err();
        let status = service.raw().http_status();
        let code = e.code().map(str::to_string);
        return AwsError {
            operation,
            class: classify_code(code.as_deref(), status),
            message: e
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string()),
            code,
        };
    }
    let (code, class) = match &err {
        SdkError::ConstructionFailure(_) => {
            (Some("RequestConstructionFailed"), ErrorClass::Terminal)
        }
        // The SDK resolves credentials before sending (e.g. AssumeRole for a namespace role):
        // a failure there is the environment's, not the network's.
        _ if loading_credentials_failed(&err) => (Some(CREDENTIALS_ERROR), ErrorClass::Environment),
        _ => (None, ErrorClass::Retryable),
    };
    AwsError {
        operation,
        code: code.map(str::to_string),
        message: aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
        class,
    }
}

/// Whether the error's source chain holds a credentials-provider error.
fn loading_credentials_failed(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        next = e.source();
    }
    false
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

    /// A create answer without the new resource's ARN is an error the driver retries (its create
    /// record then looks for what was made), never an empty identity.
    #[test]
    fn a_missing_arn_is_a_retryable_error() {
        let err = required(None::<String>, "CreateService", "service.serviceArn")
            .err()
            .map(|e| (e.class, e.code.clone(), e.to_string()));
        let (class, code, text) = err.unwrap_or((ErrorClass::Terminal, None, String::new()));
        assert_eq!(class, ErrorClass::Retryable);
        assert_eq!(code.as_deref(), Some("IncompleteAnswer"));
        assert!(
            text.contains("CreateService") && text.contains("service.serviceArn"),
            "{text}"
        );
        assert_eq!(required(Some(1), "X", "y").ok(), Some(1));
    }

    #[test]
    fn classifies_codes() {
        use ErrorClass::*;
        let cases: &[(Option<&str>, Option<u16>, ErrorClass)] = &[
            (Some("ThrottlingException"), Some(400), Throttled),
            (None, Some(429), Throttled),
            (Some("ServerException"), Some(500), Retryable),
            (None, Some(503), Retryable),
            (Some("RepositoryNotFoundException"), Some(400), NotFound),
            (
                Some("LifecyclePolicyNotFoundException"),
                Some(400),
                NotFound,
            ),
            (Some("InvalidParameterException"), Some(400), Terminal),
            (Some("ValidationException"), Some(400), Terminal),
            (Some("AccessDeniedException"), Some(403), Environment),
            (Some("AccessDenied"), Some(403), Environment),
            (Some("UnrecognizedClientException"), Some(400), Environment),
            (Some("ExpiredTokenException"), Some(400), Environment),
            (Some("InvalidClientTokenId"), Some(403), Environment),
            (Some("CredentialsError"), None, Environment),
            (None, Some(403), Environment),
            (Some("ClientException"), Some(400), Terminal),
            (Some("RepositoryNotEmptyException"), Some(400), Terminal),
            (Some("UpdateInProgressException"), Some(400), Retryable),
            (None, None, Retryable),
        ];
        for (code, status, want) in cases {
            assert_eq!(classify_code(*code, *status), *want, "{code:?} {status:?}");
        }
    }

    #[test]
    fn credentials_or_permission() {
        let cases = [
            (Some("AccessDeniedException"), false),
            (Some("UnrecognizedClientException"), true),
            (Some("ExpiredToken"), true),
            (Some(CREDENTIALS_ERROR), true),
            (None, false),
        ];
        for (code, want) in cases {
            assert_eq!(is_credentials_code(code), want, "{code:?}");
        }
    }

    #[test]
    fn a_credentials_provider_failure_is_found_in_the_source_chain() {
        use aws_credential_types::provider::error::CredentialsError;
        #[derive(Debug, thiserror::Error)]
        #[error("dispatch failure")]
        struct Wrapper(#[source] CredentialsError);
        let wrapped = Wrapper(CredentialsError::provider_error("AssumeRole: AccessDenied"));
        assert!(loading_credentials_failed(&wrapped));
        let other = std::io::Error::other("connection refused");
        assert!(!loading_credentials_failed(&other));
    }

    #[test]
    fn display_includes_operation_code_and_message() {
        let e = AwsError::terminal("CreateRepository", "InvalidParameterException", "bad name");
        assert_eq!(
            e.to_string(),
            "CreateRepository: InvalidParameterException: bad name"
        );
    }

    #[test]
    fn sdk_errors_keep_code_class_and_message() {
        use ErrorClass::*;
        use aws_credential_types::provider::error::CredentialsError;
        use aws_sdk_ecr::config::http::HttpResponse;
        use aws_sdk_ecr::error::ErrorMetadata;
        use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesError as E;
        use aws_smithy_runtime_api::client::result::ConnectorError;
        let response = HttpResponse::new(
            400.try_into().expect("status"),
            aws_smithy_types::body::SdkBody::empty(),
        );
        let missing = ErrorMetadata::builder()
            .code("RepositoryNotFoundException")
            .message("gone")
            .build();
        let no_credentials = CredentialsError::provider_error("AssumeRole failed");
        // (case, error, code, class, part of the message)
        type Case = (
            &'static str,
            SdkError<E, HttpResponse>,
            Option<&'static str>,
            ErrorClass,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "service error",
                SdkError::service_error(E::generic(missing), response),
                Some("RepositoryNotFoundException"),
                NotFound,
                "gone",
            ),
            (
                "construction",
                SdkError::construction_failure("bad input"),
                Some("RequestConstructionFailed"),
                Terminal,
                "bad input",
            ),
            (
                "credentials",
                SdkError::dispatch_failure(ConnectorError::other(Box::new(no_credentials), None)),
                Some(CREDENTIALS_ERROR),
                Environment,
                "AssumeRole failed",
            ),
            (
                "timeout",
                SdkError::timeout_error("slow"),
                None,
                Retryable,
                "slow",
            ),
        ];
        for (name, err, code, class, message) in cases {
            let e = from_sdk("DescribeRepositories", err);
            assert_eq!((e.code.as_deref(), e.class), (code, class), "{name}: {e}");
            assert!(e.message.contains(message), "{name}: {e}");
        }
    }
}
