//! Choosing and applying profiles, without a network: which profile a request gets, what a task may and may not
//! do with a profile's headers, and what comes back for redaction.

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use url::Url;

use super::spec::{BasicSpec, ProfileSpec, SecretSpec, TaskHeaders, TlsSpec};
use super::*;
use crate::outbound::clients::ClientSettings;
use crate::outbound::guard::Outbound;
use crate::outbound::local::LocalAddresses;
use crate::outbound::{TargetPattern, TargetPolicy};

fn spec(name: &str, hosts: &[&str]) -> ProfileSpec {
    ProfileSpec {
        name: name.into(),
        hosts: hosts.iter().map(|h| TargetPattern::parse(h).unwrap()).collect(),
        max_requests: None,
        headers: vec![],
        basic: None,
        oauth2: None,
        tls: TlsSpec::default(),
        proxy: None,
        allow_task_headers: TaskHeaders::None,
    }
}

fn clients() -> ClientSettings {
    ClientSettings {
        outbound: Arc::new(Outbound::new(TargetPolicy::default(), LocalAddresses::fixed(vec![]))),
        pool_max_idle_per_host: 1,
        extra_roots: vec![],
    }
}

fn profiles(specs: &[ProfileSpec]) -> Profiles {
    Profiles::build(specs, &clients(), None, &CredentialMetrics::detached()).unwrap()
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn chosen(profiles: &Profiles, target: &str, named: Option<&str>) -> Result<Option<String>, Refused> {
    profiles.select(&url(target), named).map(|p| p.map(|p| p.name().to_owned()))
}

#[test]
fn the_most_specific_profile_covers_a_request_and_a_named_one_must_cover_it() {
    let profiles = profiles(&[
        spec("wide", &["*.example.com"]),
        spec("billing", &["*.billing.example.com", "billing.internal"]),
        spec("billing-tls", &["billing.internal:8443"]),
    ]);
    let cases = [
        ("https://api.billing.example.com/x", None, Some("billing")),
        ("https://api.example.com/x", None, Some("wide")),
        ("https://billing.internal/x", None, Some("billing")),
        ("https://billing.internal:8443/x", None, Some("billing-tls")),
        ("https://elsewhere.test/x", None, None),
        ("https://billing.internal:8443/x", Some("billing"), Some("billing")),
        ("https://api.billing.example.com/x", Some("wide"), Some("wide")),
    ];
    for (target, named, want) in cases {
        assert_eq!(chosen(&profiles, target, named).unwrap().as_deref(), want, "{target} {named:?}");
    }
    let refused = chosen(&profiles, "https://attacker.test/steal", Some("billing")).unwrap_err();
    assert!(refused.0.contains("does not cover host attacker.test"), "{refused}");
    let refused = chosen(&profiles, "https://billing.internal.attacker.test/", Some("billing")).unwrap_err();
    assert!(refused.0.contains("does not cover"), "a suffix is not the host: {refused}");
    let refused = chosen(&profiles, "https://billing.internal/", Some("nope")).unwrap_err();
    assert!(refused.0.contains("no credentials profile \"nope\""), "{refused}");
}

fn task_headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

#[tokio::test]
async fn profile_headers_win_over_the_task_unless_the_profile_allows_it() {
    let mut billing = spec("billing", &["billing.internal"]);
    billing.headers = vec![
        ("X-Api-Key".into(), SecretSpec::Env { name: "KEY".into(), value: "k3y-from-env".into() }),
        ("X-Tenant".into(), SecretSpec::Literal("acme".into())),
    ];
    billing.basic = Some(BasicSpec {
        username: SecretSpec::Literal("svc".into()),
        password: SecretSpec::Env { name: "PW".into(), value: "pa55word".into() },
    });
    billing.allow_task_headers = TaskHeaders::Named(vec!["x-tenant".into()]);
    let profiles = profiles(&[billing]);
    let profile = profiles.select(&url("https://billing.internal/"), None).unwrap().unwrap();

    // A hostile task tries to replace the key and the Authorization with its own values.
    let mut headers =
        task_headers(&[("x-api-key", "mine"), ("authorization", "Bearer mine"), ("x-tenant", "other"), ("x-own", "1")]);
    let applied = profile.apply(&mut headers).await.unwrap();
    assert_eq!(headers["x-api-key"], "k3y-from-env");
    assert_eq!(headers["authorization"], "Basic c3ZjOnBhNTV3b3Jk", "svc:pa55word");
    assert_eq!(headers["x-tenant"], "other", "allow_task_headers lets the task's value stand");
    assert_eq!(headers["x-own"], "1", "headers the profile does not set are the task's");
    assert!(headers["x-api-key"].is_sensitive() && headers[AUTHORIZATION].is_sensitive());
    let secrets: Vec<&str> = applied.secrets.iter().map(|s| &**s).collect();
    assert!(secrets.contains(&"k3y-from-env") && secrets.contains(&"pa55word"), "{secrets:?}");
    assert!(secrets.contains(&"Basic c3ZjOnBhNTV3b3Jk"));
    assert!(!secrets.contains(&"acme"), "literals are configuration, not secrets");
    assert_eq!(applied.token, None);
}

#[test]
fn debug_output_names_sources_never_values() {
    let mut billing = spec("billing", &["billing.internal"]);
    billing.headers = vec![("X-Api-Key".into(), SecretSpec::Env { name: "KEY".into(), value: "k3y-from-env".into() })];
    billing.basic = Some(BasicSpec {
        username: SecretSpec::Literal("svc".into()),
        password: SecretSpec::Env { name: "PW".into(), value: "pa55word".into() },
    });
    let shown = format!("{billing:?} {:?} {:?}", profiles(std::slice::from_ref(&billing)), billing.describe());
    for secret in ["k3y-from-env", "pa55word"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("env KEY") && shown.contains("env PW"), "{shown}");
}

#[test]
fn build_lists_every_missing_file() {
    let mut a = spec("a", &["a.test"]);
    a.headers = vec![("X-Key".into(), SecretSpec::File("/nonexistent/a-key".into()))];
    let mut b = spec("b", &["b.test"]);
    b.tls.ca_file = Some("/nonexistent/b-ca.pem".into());
    let problems = Profiles::build(&[a, b], &clients(), None, &CredentialMetrics::detached()).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("targets.a.headers.X-Key: ") && problems[0].contains("/nonexistent/a-key"));
    assert!(problems[1].starts_with("targets.b.tls: ") && problems[1].contains("/nonexistent/b-ca.pem"));
}
