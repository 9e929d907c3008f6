use super::*;

fn inputs(file: Option<&str>, env: &[(&str, &str)], cli: CliOverrides) -> LoadInputs {
    LoadInputs {
        file: file.map(|text| ("worker.toml".to_owned(), text.to_owned())),
        env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        cli,
        default_worker_id: "host-1".into(),
    }
}

fn loaded(file: Option<&str>, env: &[(&str, &str)], cli: CliOverrides) -> Loaded {
    load(&inputs(file, env, cli)).unwrap_or_else(|e| panic!("{e}"))
}

fn source_of<'a>(loaded: &'a Loaded, key: &str) -> &'a Source {
    &loaded.settings.iter().find(|s| s.key == key).unwrap_or_else(|| panic!("no setting {key}")).source
}

#[test]
fn defaults_serve_http_poll_against_localhost() {
    let loaded = loaded(None, &[], CliOverrides::default());
    let config = &loaded.config;
    assert_eq!(config.server.url.as_str(), "http://localhost:8080/api");
    assert_eq!(config.server.auth, None);
    assert_eq!(config.admin.addr, Some(([127, 0, 0, 1], 9191).into()));
    assert_eq!(config.admin.control_addr, None, "no token: the control endpoint is off");
    assert!(!config.security.policy.allow_loopback, "this host's addresses are denied to tasks by default");
    assert_eq!(config.http.proxy, None);
    assert!(config.http.sensitive_headers.contains(&"authorization".to_owned()));
    assert_eq!(config.task_types.len(), 1);
    let task = &config.task_types[0];
    assert_eq!(task.name, "HTTP_POLL");
    assert_eq!(task.park_threshold, Duration::from_secs(30));
    assert_eq!((task.concurrency, task.poll_batch_max, task.poll_timeout), (100, 32, Duration::from_secs(1)));
    assert_eq!((task.domain.as_deref(), task.worker_id.as_str(), task.paused), (None, "host-1", false));
    assert!(loaded.settings.iter().all(|s| s.source == Source::Default || s.key == "task_types"));
}

/// Each row: what sets `task_types.HTTP_POLL.concurrency`, and the value and source that must win.
#[test]
fn task_type_precedence() {
    let file = "[defaults]\nconcurrency = 5\n[task_types.HTTP_POLL]\nconcurrency = 6\n";
    let file_defaults_only = "[defaults]\nconcurrency = 5\n[task_types.HTTP_POLL]\n";
    let all = ("CONDUCTOR_WORKER_ALL_CONCURRENCY", "7");
    let specific = ("CONDUCTOR_WORKER_HTTP_POLL_CONCURRENCY", "8");
    let sdk_alias = ("CONDUCTOR_WORKER_HTTP_POLL_THREAD_COUNT", "9");
    let cli = CliOverrides { concurrency: Some("10".into()), ..CliOverrides::default() };
    let cases: Vec<(Option<&str>, Vec<(&str, &str)>, CliOverrides, usize, Source)> = vec![
        (None, vec![], CliOverrides::default(), 100, Source::Default),
        (
            Some(file_defaults_only),
            vec![],
            CliOverrides::default(),
            5,
            Source::File("worker.toml defaults.concurrency".into()),
        ),
        (
            Some(file),
            vec![],
            CliOverrides::default(),
            6,
            Source::File("worker.toml task_types.HTTP_POLL.concurrency".into()),
        ),
        (Some(file), vec![all], CliOverrides::default(), 7, Source::Env(all.0.into())),
        (Some(file), vec![all, specific], CliOverrides::default(), 8, Source::Env(specific.0.into())),
        (Some(file), vec![all, sdk_alias], CliOverrides::default(), 9, Source::Env(sdk_alias.0.into())),
        (Some(file), vec![all, specific], cli, 10, Source::Cli("--concurrency")),
    ];
    for (file, env, cli, want, source) in cases {
        let loaded = loaded(file, &env, cli);
        assert_eq!(loaded.config.task_types[0].concurrency, want, "{env:?}");
        assert_eq!(source_of(&loaded, "task_types.HTTP_POLL.concurrency"), &source, "{env:?}");
    }
}

#[test]
fn global_precedence_and_sdk_names() {
    let file = "[server]\nurl = \"http://file:1/api\"\n";
    let env = [("CONDUCTOR_SERVER_URL", "http://env:2/api/")];
    let loaded_file = loaded(Some(file), &[], CliOverrides::default());
    assert_eq!(loaded_file.config.server.url.as_str(), "http://file:1/api");
    let loaded_env = loaded(Some(file), &env, CliOverrides::default());
    assert_eq!(loaded_env.config.server.url.as_str(), "http://env:2/api", "trailing slash trimmed");
    let cli = CliOverrides { server_url: Some("http://cli:3/api".into()), ..CliOverrides::default() };
    let loaded_cli = loaded(Some(file), &env, cli);
    assert_eq!(loaded_cli.config.server.url.as_str(), "http://cli:3/api");
    assert_eq!(source_of(&loaded_cli, "server.url"), &Source::Cli("--server-url"));
    let ours = loaded(None, &[("CONDUCTOR_HTTP_WORKER_LIMITS_MAX_CONCURRENT_TASKS", "12")], CliOverrides::default());
    assert_eq!(ours.config.limits.max_concurrent_tasks, 12);
}

#[test]
fn env_names_ignore_case_and_separators() {
    let env = [("conductor.worker.my-task.domain", "blue"), ("CONDUCTOR_HTTP_WORKER_TASK_TYPES", "my-task, other")];
    let loaded = loaded(None, &env, CliOverrides::default());
    let names: Vec<_> = loaded.config.task_types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["my-task", "other"]);
    assert_eq!(loaded.config.task_types[0].domain.as_deref(), Some("blue"));
    assert_eq!(loaded.config.task_types[1].domain, None);
}

#[test]
fn task_types_come_from_cli_env_file_in_that_order() {
    let file = "task_types = [\"from_file\"]\n";
    let env = [("CONDUCTOR_HTTP_WORKER_TASK_TYPES", "from_env")];
    let cli = CliOverrides { task_types: vec!["from_cli".into(), "second".into()], ..CliOverrides::default() };
    let names = |l: &Loaded| l.config.task_types.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&loaded(Some(file), &[], CliOverrides::default())), ["from_file"]);
    assert_eq!(names(&loaded(Some(file), &env, CliOverrides::default())), ["from_env"]);
    assert_eq!(names(&loaded(Some(file), &env, cli)), ["from_cli", "second"]);
}

#[test]
fn tables_for_unserved_task_types_warn_instead_of_failing() {
    let file = "[task_types.a]\nconcurrency = 3\n[task_types.b]\n";
    let cli = CliOverrides { task_types: vec!["a".into()], ..CliOverrides::default() };
    let loaded = loaded(Some(file), &[], cli);
    assert_eq!(loaded.config.task_types[0].concurrency, 3);
    assert!(loaded.warnings.iter().any(|w| w.contains("task_types.b")), "{:?}", loaded.warnings);
}

#[test]
fn secrets_are_masked_in_the_effective_configuration() {
    let env = [("CONDUCTOR_AUTH_KEY", "key-id-123"), ("CONDUCTOR_AUTH_SECRET", "s3cr3t-value")];
    let loaded = loaded(None, &env, CliOverrides::default());
    assert_eq!(loaded.config.server.auth, Some(("key-id-123".into(), "s3cr3t-value".into())));
    let printed = format!("{:?} {:?}", loaded.settings, loaded.config);
    assert!(!printed.contains("key-id-123") || !printed.contains("s3cr3t-value"), "{printed}");
    assert!(!printed.contains("s3cr3t-value"), "{printed}");
    let secret = loaded.settings.iter().find(|s| s.key == "server.auth_secret").unwrap();
    assert_eq!(secret.value, "*** (set)");
}

/// A configuration with many mistakes lists all of them, each naming the key or variable.
#[test]
fn every_problem_is_listed() {
    let file = r#"
[server]
ulr = "typo"
request_timeout_ms = "ten"
[limits]
max_concurrent_tasks = 0
[task_types.HTTP_POLL]
poll_timeout_ms = 6000
concurrency = -1
"#;
    let env = [
        ("CONDUCTOR_WORKER_ALL_PAUSED", "perhaps"),
        ("CONDUCTOR_AUTH_KEY", "only-the-key"),
        ("CONDUCTOR_HTTP_WORKER_POLLING_JITTER_RATIO", "2"),
    ];
    let cli = CliOverrides { admin_addr: Some("nowhere".into()), ..CliOverrides::default() };
    let error = load(&inputs(Some(file), &env, cli)).unwrap_err();
    let text = error.to_string();
    let expected = [
        "unknown key `server.ulr`",
        "server.request_timeout_ms: expected a whole number",
        "limits.max_concurrent_tasks = 0",
        "task_types.HTTP_POLL.poll_timeout_ms = 6000",
        "task_types.HTTP_POLL.concurrency: -1 is out of range",
        "env CONDUCTOR_WORKER_ALL_PAUSED",
        "auth_key and server.auth_secret must be set together",
        "polling.jitter_ratio = 2",
        "--admin-addr",
    ];
    for fragment in expected {
        assert!(text.contains(fragment), "missing {fragment:?} in:\n{text}");
    }
    assert_eq!(error.problems.len(), expected.len(), "{text}");
}

#[test]
fn broken_toml_is_one_problem_and_env_problems_still_show() {
    let error = load(&inputs(Some("[server\nurl="), &[("CONDUCTOR_SERVER_URL", "ftp://x")], CliOverrides::default()))
        .unwrap_err();
    assert_eq!(error.problems.len(), 2, "{error}");
    assert!(error.problems[0].starts_with("worker.toml: not valid TOML"));
    assert!(error.problems[1].contains("CONDUCTOR_SERVER_URL"));
}

#[test]
fn unknown_worker_env_vars_only_warn() {
    let env = [
        ("CONDUCTOR_WORKER_SOMETHING_ELSE_DOMAIN", "x"),
        ("CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_LOOPBAK", "true"),
        ("CONDUCTOR_HTTP_WORKER_CONFIG", "/etc/worker.toml"),
        ("CONDUCTOR_HTTP_WORKER_LIMITS_MAX_CONCURRENT_TASKS", "500"),
    ];
    let loaded = loaded(None, &env, CliOverrides::default());
    assert!(loaded.warnings.iter().any(|w| w.contains("CONDUCTOR_WORKER_SOMETHING_ELSE_DOMAIN")));
    assert!(
        loaded.warnings.iter().any(|w| w.contains("CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_LOOPBAK")),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(loaded.warnings.len(), 2, "the config path and a known key are not warned about: {:?}", loaded.warnings);
}

#[test]
fn the_control_endpoint_needs_a_token_and_secrets_never_show() {
    let with_token = loaded(None, &[("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_TOKEN", "t0ken")], CliOverrides::default());
    assert_eq!(with_token.config.admin.control_addr, Some(([127, 0, 0, 1], 9192).into()));
    assert_eq!(with_token.config.admin.control_token, Some(ControlToken::Value("t0ken".into())));
    let env = [
        ("CONDUCTOR_SERVER_URL", "http://user:pa55word@conductor:8080/api"),
        ("CONDUCTOR_HTTP_WORKER_HTTP_PROXY", "http://proxyuser:pr0xypw@egress:3128"),
        ("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_TOKEN", "t0ken"),
    ];
    let loaded = loaded(None, &env, CliOverrides::default());
    let shown = format!("{:?} {:?}", loaded.settings, loaded.config);
    assert!(shown.contains("http://***@egress:3128"), "{shown}");
    for secret in ["pa55word", "pr0xypw", "t0ken"] {
        assert!(!shown.contains(secret), "{secret} shows in {shown}");
    }
    let both =
        [("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_TOKEN", "a"), ("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_TOKEN_FILE", "/f")];
    let error = load(&inputs(None, &both, CliOverrides::default())).unwrap_err();
    assert!(error.problems.iter().any(|p| p.contains("set one, not both")), "{error}");
    let bad_proxy = [("CONDUCTOR_HTTP_WORKER_HTTP_PROXY", "ftp://x:s3cret@h")];
    let error = load(&inputs(None, &bad_proxy, CliOverrides::default())).unwrap_err();
    assert!(error.problems.iter().any(|p| p.contains("http.proxy") && !p.contains("s3cret")), "{error}");
}

#[test]
fn shipped_example_config_loads() {
    let text = include_str!("../../config/worker.toml");
    let loaded = loaded(Some(text), &[], CliOverrides::default());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.task_types[0].name, "HTTP_POLL");
}

/// The TOML embedded in the Kubernetes ConfigMap (the block under `worker.toml: |`).
fn configmap_toml() -> String {
    let yaml = include_str!("../../deploy/kubernetes/configmap.yaml");
    let block = yaml.split("worker.toml: |\n").nth(1).expect("the ConfigMap embeds worker.toml");
    block
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| l.get(4..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every value the shipped files set is the catalog's default, except the container settings they exist for.
#[test]
fn shipped_files_agree_with_the_defaults() {
    let defaults = loaded(None, &[], CliOverrides::default());
    let default_of = |key: &str| defaults.settings.iter().find(|s| s.key == key).map(|s| s.value.clone());
    let container_settings = ["admin.addr", "log.format"];
    for (name, text) in
        [("config/worker.toml", include_str!("../../config/worker.toml").to_owned()), ("configmap", configmap_toml())]
    {
        let file = loaded(Some(&text), &[], CliOverrides::default());
        let mut from_file = 0;
        for setting in file.settings.iter().filter(|s| matches!(s.source, Source::File(_))) {
            from_file += 1;
            if name == "configmap" && container_settings.contains(&setting.key.as_str()) {
                continue;
            }
            assert_eq!(Some(&setting.value), default_of(&setting.key).as_ref(), "{name}: {}", setting.key);
        }
        assert!(from_file >= 20, "{name} sets {from_file} keys");
    }
}

/// The shutdown grace is one deadline for every phase; the pod (and compose) wait longer before SIGKILL.
#[test]
fn the_pod_waits_longer_than_the_grace() {
    let configmap = loaded(Some(&configmap_toml()), &[], CliOverrides::default());
    let grace = configmap.config.shutdown_grace.as_secs();
    let number_after = |text: &str, key: &str| -> u64 {
        let rest = text.split(key).nth(1).unwrap_or_else(|| panic!("{key} missing"));
        rest.trim_start_matches([':', ' '])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    let pod = number_after(include_str!("../../deploy/kubernetes/deployment.yaml"), "terminationGracePeriodSeconds");
    let compose = number_after(include_str!("../../deploy/compose/docker-compose.yml"), "stop_grace_period");
    // The worker exits within grace + 1 s; a few seconds more cover the process start of a slow node.
    assert!(pod >= grace + 5, "terminationGracePeriodSeconds {pod} vs grace {grace}");
    assert!(compose >= grace + 5, "stop_grace_period {compose}s vs grace {grace}");
}

/// Loading reads every catalogue entry, and nothing outside it: the catalogue is the list of settings.
#[test]
fn load_reads_exactly_the_catalog() {
    let loaded = loaded(None, &[], CliOverrides::default());
    let read: std::collections::BTreeSet<String> = loaded.settings.iter().map(|s| s.key.clone()).collect();
    let mut expected: std::collections::BTreeSet<String> = catalog::GLOBAL.iter().map(|e| e.key().to_owned()).collect();
    expected.extend(catalog::PER_TASK_TYPE.iter().map(|e| format!("task_types.HTTP_POLL.{}", e.key())));
    expected.insert("task_types".into());
    assert_eq!(read, expected);
    assert_eq!(expected.len(), catalog::GLOBAL.len() + catalog::PER_TASK_TYPE.len() + 1, "keys are unique");
}

/// `(section, key)` of every `key = value` line of a TOML file, commented out (`# key = value`) or not.
fn documented_keys(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in text.lines() {
        if let Some(header) = line.strip_prefix('[') {
            section = header.trim_end_matches(']').to_owned();
            continue;
        }
        let line = line.strip_prefix("# ").unwrap_or(line);
        if let Some((key, value)) = line.split_once(" = ")
            && !key.is_empty()
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            keys.push((section.clone(), key.to_owned(), value.to_owned()));
        }
    }
    keys
}

/// config/worker.toml shows every setting of the catalogue in its section, with its default (the host name and
/// the secrets excepted), and names the SDK environment variables and flags each is also read from.
#[test]
fn worker_toml_documents_every_catalog_entry() {
    let text = include_str!("../../config/worker.toml");
    let documented = documented_keys(text);
    let entries = catalog::GLOBAL
        .iter()
        .map(|e| (*e, e.key().split_once('.').map(|(s, k)| (s.to_owned(), k.to_owned())).unwrap()))
        .chain(catalog::PER_TASK_TYPE.iter().map(|e| (*e, ("defaults".to_owned(), e.key().to_owned()))));
    for (entry, (section, key)) in entries {
        let Some((_, _, value)) = documented.iter().find(|(s, k, _)| *s == section && *k == key) else {
            panic!("config/worker.toml does not show [{section}] {key}");
        };
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}")).unwrap()["v"].clone();
        if !entry.secret() && key != "worker_id" {
            assert!(
                entry.is_default(&value),
                "[{section}] {key} = {value} is not the default {}",
                entry.default_text()
            );
        }
    }
    for entry in catalog::GLOBAL {
        for name in entry.env() {
            assert!(text.contains(name), "config/worker.toml does not name {name} ({})", entry.key());
        }
    }
    let readme = include_str!("../../README.md");
    for entry in catalog::PER_TASK_TYPE {
        for prop in entry.env() {
            assert!(readme.contains(&format!("`{prop}`")), "README does not name the SDK property {prop}");
        }
    }
}

mod targets;
