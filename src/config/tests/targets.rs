//! `[targets.<name>]`: the issue's own example loads, every mistake is listed naming its key, and no value reaches
//! `check-config` or `Debug`.

use super::*;
use crate::credentials::spec::{ClientAuth, SecretSpec, TaskHeaders};

const BILLING: &str = r#"
[targets.billing]
hosts = ["billing.internal", "*.billing.example.com", "billing.internal:8443"]
max_requests = 8
headers = { "X-Api-Key" = { file = "/run/secrets/billing/key" }, "X-Tenant" = "acme", "X-Env" = { env = "BILLING_ENV" } }
oauth2 = { token_url = "https://idp.internal/oauth2/token", client_id = "worker", client_secret_file = "/run/secrets/billing/secret",
           scopes = ["jobs.read"], audience = "billing", client_auth = "basic" }
tls = { client_cert_file = "/run/secrets/billing/tls.crt", client_key_file = "/run/secrets/billing/tls.key", ca_file = "/run/secrets/billing/ca.crt" }
proxy = "http://egress.internal:3128"
allow_task_headers = ["X-Tenant"]

[targets.legacy]
hosts = ["legacy.internal"]
basic = { username = "svc", password_env = "LEGACY_PW" }
"#;

#[test]
fn the_documented_profile_loads_with_sources_and_no_values() {
    let env = [("BILLING_ENV", "prod-env-value"), ("LEGACY_PW", "legacy-pa55")];
    let loaded = loaded(Some(BILLING), &env, CliOverrides::default());
    let targets = &loaded.config.targets;
    assert_eq!(targets.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["billing", "legacy"]);
    let billing = &targets[0];
    assert_eq!(billing.hosts.len(), 3);
    assert_eq!(billing.max_requests, Some(8));
    let header = |name: &str| billing.headers.iter().find(|(h, _)| h == name).map(|(_, v)| v.clone());
    assert_eq!(header("X-Api-Key"), Some(SecretSpec::File("/run/secrets/billing/key".into())));
    assert_eq!(header("X-Env"), Some(SecretSpec::Env { name: "BILLING_ENV".into(), value: "prod-env-value".into() }));
    assert_eq!(header("X-Tenant"), Some(SecretSpec::Literal("acme".into())));
    let oauth2 = billing.oauth2.as_ref().unwrap();
    assert_eq!((oauth2.scopes.as_slice(), oauth2.client_auth), (&["jobs.read".to_owned()][..], ClientAuth::Basic));
    assert_eq!(billing.allow_task_headers, TaskHeaders::Named(vec!["x-tenant".into()]));
    assert!(billing.tls.client_cert_file.is_some() && billing.proxy.is_some());

    let printed = format!("{:?} {:?}", loaded.settings, loaded.config);
    for secret in ["prod-env-value", "legacy-pa55"] {
        assert!(!printed.contains(secret), "{secret} shows in {printed}");
    }
    let shown =
        |key: &str| loaded.settings.iter().find(|s| s.key == key).unwrap_or_else(|| panic!("{key}")).value.clone();
    assert_eq!(shown("targets.billing.headers.X-Env"), "<env BILLING_ENV>");
    assert_eq!(shown("targets.billing.headers.X-Tenant"), "<literal>");
    assert_eq!(shown("targets.legacy.basic"), "username <literal>, password <env LEGACY_PW>");
    assert!(shown("targets.billing.oauth2").contains("client_secret <file /run/secrets/billing/secret>"));
}

#[test]
fn every_mistake_in_a_profile_is_listed_by_its_key() {
    let file = r#"
[targets.a]
hosts = ["*"]
max_requests = 0
headers = { "Bad Name" = "x", "Host" = "h", "X-Env" = { env = "MISSING_VAR" }, "X-Both" = { file = "/f", env = "E" } }
basic = { username = "svc", password = "written-in-the-file" }
oauth2 = { token_url = "ftp://idp", client_secret_env = "MISSING_TOO", client_auth = "jwt" }
tls = { client_cert_file = "/c.pem" }
proxy = "socks5://p"
typo = 1

[targets.b]
hosts = ["shared.internal"]

[targets.c]
hosts = ["shared.internal"]

[targets."bad name"]
hosts = ["x.test"]

[targets.d]
"#;
    let error = load(&inputs(Some(file), &[], CliOverrides::default())).unwrap_err();
    let expected = [
        "targets.a.hosts: \"*\" would send",
        "targets.a.max_requests: must be a whole number from 1",
        "targets.a.headers.Bad Name: is not a valid header name",
        "targets.a.headers.Host: is set by the worker",
        "targets.a.headers.X-Env: environment variable MISSING_VAR is not set",
        "targets.a.headers.X-Both: must be a string, { file",
        "targets.a.basic.password: a secret is not written in the configuration file: use password_file or password_env",
        "targets.a.oauth2.token_url: must be an http:// or https:// URL",
        "targets.a.oauth2.client_id: is required",
        "targets.a.oauth2.client_secret: environment variable MISSING_TOO is not set",
        "targets.a.oauth2.client_auth: must be \"basic\" or \"body\"",
        "targets.a.basic: and oauth2 both set Authorization",
        "targets.a.tls: client_cert_file and client_key_file go together",
        "targets.a.proxy: socks5://p: must be an http:// or https:// URL",
        "worker.toml: unknown key `targets.a.typo`",
        "targets.c.hosts: shared.internal is also listed by targets.b",
        "targets.\"bad name\": a profile name is",
        "targets.d.hosts: is required",
    ];
    for want in expected {
        assert!(error.problems.iter().any(|p| p.starts_with(want)), "missing {want:?} in {:#?}", error.problems);
    }
    assert!(!error.to_string().contains("written-in-the-file"), "{error}");
}
