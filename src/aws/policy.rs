//! JSON policy documents (IAM resource policies, ECR lifecycle policies): what is sent to AWS,
//! and when two documents mean the same.
//!
//! The document is sent as the user wrote it (only key order may differ: JSON objects are
//! serialised in key order), so what AWS holds matches Git. Comparison is semantic, because AWS
//! hands a policy back with other key order and whitespace, and may rewrite parts of it. No
//! maintained crate compares policies (aws-iam is unmaintained since 2022; iam-rs parses and
//! evaluates but has no equivalence), so this is a small normaliser.

use serde_json::Value;

/// IAM elements whose value may be a string or a list of strings, with no meaning in the order.
const SET_VALUED: &[&str] = &[
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
];

/// The text sent to AWS for a policy from the spec: the document as written, compact JSON.
pub fn to_text(value: &Value) -> String {
    value.to_string()
}

/// Normalises a policy so two equivalent documents compare equal. For comparison only; never
/// sent to AWS.
pub fn normalize(value: &Value) -> Value {
    normalize_in(value, None)
}

/// Parses a policy text from AWS and normalises it; unparsable text compares as a string.
pub fn normalize_text(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .map(|v| normalize(&v))
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

/// True when two policies are semantically the same.
pub fn equivalent(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

fn normalize_in(value: &Value, key: Option<&str>) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalize_in(v, Some(k))))
                .collect(),
        ),
        Value::Array(items) => {
            let mut out: Vec<Value> = items.iter().map(|v| normalize_in(v, key)).collect();
            if key.is_some_and(|k| k == "Statement" || is_set_valued(k)) || in_condition(key) {
                out.sort_by_key(|v| v.to_string());
                out.dedup();
            }
            if out.len() == 1 && key.is_some_and(|k| k == "Statement" || is_set_valued(k)) {
                return out.remove(0);
            }
            Value::Array(out)
        }
        Value::String(s) if key == Some("AWS") => Value::String(account_principal(s).to_string()),
        // Condition values are compared as strings: "true" and true mean the same to IAM.
        Value::Bool(b) if in_condition(key) => Value::String(b.to_string()),
        Value::Number(n) if in_condition(key) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

/// An account's root ARN (`arn:<partition>:iam::<id>:root`) as the bare account ID: IAM stores
/// a principal written as `"123456789012"` as the root ARN, so both must compare equal.
fn account_principal(principal: &str) -> &str {
    let mut parts = principal.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(_), Some("iam"), Some(""), Some(account), Some("root"))
            if is_account_id(account) =>
        {
            account
        }
        _ => principal,
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_set_valued(key: &str) -> bool {
    SET_VALUED.contains(&key)
}

/// Keys inside a Condition block are condition keys such as `aws:SourceAccount` (they hold a colon).
fn in_condition(key: Option<&str>) -> bool {
    key.is_some_and(|k| k.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equivalent_policies() {
        let cases = [
            (
                "key order and whitespace",
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Principal": "*"}]}),
                json!({"Statement": [{"Principal": "*", "Action": "ecr:*", "Effect": "Allow"}], "Version": "2012-10-17"}),
            ),
            (
                "single value vs one-element list",
                json!({"Statement": [{"Effect": "Allow", "Action": ["ecr:GetDownloadUrlForLayer"], "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]}}]}),
                json!({"Statement": {"Effect": "Allow", "Action": "ecr:GetDownloadUrlForLayer", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}}),
            ),
            (
                "action order",
                json!({"Statement": [{"Effect": "Allow", "Action": ["ecr:A", "ecr:B"]}]}),
                json!({"Statement": [{"Effect": "Allow", "Action": ["ecr:B", "ecr:A"]}]}),
            ),
            (
                "condition value types",
                json!({"Statement": [{"Condition": {"Bool": {"aws:SecureTransport": true}}}]}),
                json!({"Statement": [{"Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}),
            ),
            (
                "bare account id is the account's root ARN (IAM rewrites the first into the second)",
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}}]}),
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}),
            ),
            (
                "account ids in a principal list, other partition",
                json!({"Statement": [{"Principal": {"AWS": ["210987654321", "arn:aws-cn:iam::123456789012:root"]}}]}),
                json!({"Statement": [{"Principal": {"AWS": ["arn:aws:iam::210987654321:root", "123456789012"]}}]}),
            ),
            (
                "NotPrincipal account id",
                json!({"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": "123456789012"}}]}),
                json!({"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::123456789012:root"]}}]}),
            ),
            (
                "statement order",
                json!({"Statement": [{"Sid": "a", "Effect": "Allow"}, {"Sid": "b", "Effect": "Deny"}]}),
                json!({"Statement": [{"Sid": "b", "Effect": "Deny"}, {"Sid": "a", "Effect": "Allow"}]}),
            ),
            (
                "nulls dropped",
                json!({"Statement": [{"Effect": "Allow", "Sid": null}]}),
                json!({"Statement": [{"Effect": "Allow"}]}),
            ),
        ];
        for (name, a, b) in cases {
            assert!(equivalent(&a, &b), "{name}: {a} vs {b}");
        }
    }

    #[test]
    fn different_policies() {
        let cases = [
            (
                "effect",
                json!({"Statement": [{"Effect": "Allow", "Action": "ecr:*"}]}),
                json!({"Statement": [{"Effect": "Deny", "Action": "ecr:*"}]}),
            ),
            (
                "extra action",
                json!({"Statement": [{"Effect": "Allow", "Action": ["ecr:A"]}]}),
                json!({"Statement": [{"Effect": "Allow", "Action": ["ecr:A", "ecr:B"]}]}),
            ),
            (
                "different account",
                json!({"Statement": [{"Principal": {"AWS": "123456789012"}}]}),
                json!({"Statement": [{"Principal": {"AWS": "arn:aws:iam::210987654321:root"}}]}),
            ),
            (
                "a role is not its account",
                json!({"Statement": [{"Principal": {"AWS": "123456789012"}}]}),
                json!({"Statement": [{"Principal": {"AWS": "arn:aws:iam::123456789012:role/root"}}]}),
            ),
            (
                "account id outside a principal stays a string",
                json!({"Statement": [{"Resource": "123456789012"}]}),
                json!({"Statement": [{"Resource": "arn:aws:iam::123456789012:root"}]}),
            ),
            (
                "service principal is not an account",
                json!({"Statement": [{"Principal": {"Service": "123456789012"}}]}),
                json!({"Statement": [{"Principal": {"Service": "arn:aws:iam::123456789012:root"}}]}),
            ),
            (
                "lifecycle rule order is meaningful only by priority, but count differs",
                json!({"rules": [{"rulePriority": 1, "selection": {"countNumber": 5}}]}),
                json!({"rules": [{"rulePriority": 1, "selection": {"countNumber": 6}}]}),
            ),
        ];
        for (name, a, b) in cases {
            assert!(!equivalent(&a, &b), "{name}: {a} vs {b}");
        }
    }

    #[test]
    fn text_from_aws_is_parsed() {
        let text = "{\n  \"rules\" : [ { \"rulePriority\" : 1 } ]\n}";
        assert_eq!(
            normalize_text(text),
            json!({"rules": [{"rulePriority": 1}]})
        );
        assert_eq!(normalize_text("not json"), json!("not json"));
    }

    #[test]
    fn text_sent_is_the_document_as_written() {
        // One-statement list and unsorted actions stay as they are (normalize would change both).
        let written = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": ["ecr:PutImage", "ecr:BatchGetImage"]}
        ]});
        let sent: Value = serde_json::from_str(&to_text(&written)).expect("valid JSON");
        assert_eq!(sent, written);
        assert_ne!(normalize(&written), written);
        assert!(equivalent(&sent, &written));
    }
}
