//! Semantic comparison of JSON policy documents (IAM resource policies, ECR lifecycle policies).
//!
//! No maintained crate does this (aws-iam is unmaintained since 2022; iam-rs is an evaluator), so
//! this is a small normaliser: AWS may hand back a policy with other key order, whitespace, a single
//! value where we sent a one-element list (or the reverse), and list order that carries no meaning.

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

/// Normalises a policy so two equivalent documents compare equal.
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
        // Condition values are compared as strings: "true" and true mean the same to IAM.
        Value::Bool(b) if in_condition(key) => Value::String(b.to_string()),
        Value::Number(n) if in_condition(key) => Value::String(n.to_string()),
        other => other.clone(),
    }
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
}
