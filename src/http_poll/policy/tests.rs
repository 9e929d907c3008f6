use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn policy(allow_hosts: &[&str], deny_hosts: &[&str], allow_cidrs: &[&str], deny_cidrs: &[&str]) -> TargetPolicy {
    let mut policy = TargetPolicy::default_deny_metadata();
    policy.allow_hosts = allow_hosts.iter().map(|p| HostPattern::parse(p).unwrap()).collect();
    policy.deny_hosts = deny_hosts.iter().map(|p| HostPattern::parse(p).unwrap()).collect();
    policy.allow_cidrs = allow_cidrs.iter().map(|c| Cidr::parse(c).unwrap()).collect();
    policy.deny_cidrs.extend(deny_cidrs.iter().map(|c| Cidr::parse(c).unwrap()));
    policy
}

#[test]
fn cidr_membership() {
    let cases = [
        ("10.0.0.0/8", "10.255.1.2", true),
        ("10.0.0.0/8", "11.0.0.1", false),
        ("169.254.0.0/16", "169.254.169.254", true),
        ("169.254.0.0/16", "::ffff:169.254.169.254", true),
        ("fd00:ec2::254/128", "fd00:ec2::254", true),
        ("fd00:ec2::254", "fd00:ec2::255", false),
        ("fe80::/10", "fe80::1", true),
        ("fe80::/10", "fec0::1", false),
        ("0.0.0.0/0", "8.8.8.8", true),
        ("0.0.0.0/0", "::1", false),
        ("127.0.0.1", "127.0.0.1", true),
    ];
    for (range, address, want) in cases {
        assert_eq!(Cidr::parse(range).unwrap().contains(ip(address)), want, "{address} in {range}");
    }
    for bad in ["10.0.0.0/33", "fe80::/129", "nope", "10.0.0/8", ""] {
        assert!(Cidr::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn host_patterns() {
    let cases = [
        ("api.example.com", "api.example.com", true),
        ("api.example.com", "API.example.com.", false),
        ("*.example.com", "a.example.com", true),
        ("*.example.com", "a.b.example.com", true),
        ("*.example.com", "example.com", false),
        ("*.example.com", "badexample.com", false),
        ("*", "anything", true),
    ];
    for (pattern, host, want) in cases {
        assert_eq!(HostPattern::parse(pattern).unwrap().matches(host), want, "{host} ~ {pattern}");
    }
    for bad in ["", "a b", "http://x", "*.", "x/y"] {
        assert!(HostPattern::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn decisions() {
    let open = policy(&[], &[], &[], &[]);
    let restricted = policy(&["*.internal.example"], &["secret.internal.example"], &["10.1.0.0/16"], &["10.1.9.0/24"]);
    let cases: [(&TargetPolicy, Option<&str>, &str, Result<(), &str>); 12] = [
        (&open, Some("api.example.com"), "93.184.216.34", Ok(())),
        (&open, None, "127.0.0.1", Ok(())),
        (&open, None, "169.254.169.254", Err("denied range 169.254.0.0/16")),
        (&open, Some("metadata.google.internal"), "169.254.169.254", Err("denied range")),
        (&open, None, "::ffff:169.254.169.254", Err("denied range")),
        (&open, None, "fd00:ec2::254", Err("denied range fd00:ec2::254/128")),
        (&restricted, Some("jobs.internal.example"), "192.0.2.10", Ok(())),
        (&restricted, Some("secret.internal.example"), "10.1.0.5", Err("denied pattern")),
        (&restricted, Some("other.example"), "10.1.2.3", Ok(())),
        (&restricted, Some("other.example"), "10.1.9.3", Err("denied range 10.1.9.0/24")),
        (&restricted, Some("other.example"), "192.0.2.10", Err("not in the allow lists")),
        (&restricted, None, "192.0.2.10", Err("not in the allow lists")),
    ];
    for (policy, name, address, want) in cases {
        let got = policy.decide(name, ip(address));
        match (got, want) {
            (Ok(()), Ok(())) => {}
            (Err(Blocked(reason)), Err(fragment)) => assert!(reason.contains(fragment), "{name:?} {address}: {reason}"),
            (got, want) => panic!("{name:?} {address}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn urls_are_checked_by_literal_address_and_denied_names() {
    let policy = policy(&[], &["*.blocked.example"], &[], &[]);
    let check = |url: &str| policy.check_url(&Url::parse(url).unwrap());
    assert!(check("http://169.254.169.254/latest/meta-data").is_err());
    assert!(check("http://[fd00:ec2::254]/").is_err());
    assert!(check("http://x.blocked.example/").is_err());
    assert!(check("http://127.0.0.1:8080/").is_ok());
    assert!(check("https://allowed.example/").is_ok(), "names are resolved and checked by the resolver");
}

#[tokio::test]
async fn the_resolver_returns_only_allowed_addresses() {
    use reqwest::dns::Resolve;
    let deny_loopback = policy(&[], &[], &[], &["127.0.0.0/8", "::1/128"]);
    let resolver = PolicyResolver::new(Arc::new(deny_loopback));
    let error = match resolver.resolve("localhost".parse().unwrap()).await {
        Ok(addrs) => panic!("localhost resolved to allowed {:?}", addrs.collect::<Vec<_>>()),
        Err(error) => error,
    };
    assert!(find_blocked(error.as_ref()).is_some_and(|b| b.0.contains("denied range")), "{error}");
    let open = PolicyResolver::new(Arc::new(policy(&[], &[], &[], &[])));
    let addrs: Vec<_> = open.resolve("localhost".parse().unwrap()).await.unwrap().collect();
    assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
}
