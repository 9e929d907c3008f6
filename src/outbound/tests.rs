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

fn facts() -> HostFacts<'static> {
    const LOCAL: [IpAddr; 2] =
        [IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 2, 15)), IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)];
    HostFacts { local: &LOCAL, own_ports: &[9191, 9192] }
}

fn decide(policy: &TargetPolicy, name: Option<&str>, address: &str, port: Option<u16>) -> Result<(), Blocked> {
    policy.decide(Target { name, ip: ip(address), port }, &facts())
}

#[test]
fn decisions() {
    let open = policy(&[], &[], &[], &[]);
    let restricted = policy(&["*.internal.example"], &["secret.internal.example"], &["10.1.0.0/16"], &["10.1.9.0/24"]);
    let cases: [(&TargetPolicy, Option<&str>, &str, Result<(), &str>); 12] = [
        (&open, Some("api.example.com"), "93.184.216.34", Ok(())),
        (&open, None, "127.0.0.1", Err("belongs to this host")),
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
        match (decide(policy, name, address, Some(443)), want) {
            (Ok(()), Ok(())) => {}
            (Err(Blocked(reason)), Err(fragment)) => assert!(reason.contains(fragment), "{name:?} {address}: {reason}"),
            (got, want) => panic!("{name:?} {address}: got {got:?}, want {want:?}"),
        }
    }
}

/// This host's addresses, however spelled, are denied by default; with `allow_loopback` they are allowed except on
/// the worker's own ports, which stay denied whatever the rules say.
#[test]
fn this_host_and_its_own_listeners() {
    let mut allowing = policy(&[], &[], &["0.0.0.0/0", "::/0"], &[]);
    allowing.allow_loopback = true;
    let default = policy(&[], &[], &[], &[]);
    let spellings = [
        "127.0.0.1",
        "127.1.2.3",
        "0.0.0.0",
        "0.1.2.3",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::127.0.0.1",
        "::ffff:0.0.0.0",
        "10.0.2.15",
        "::ffff:10.0.2.15",
    ];
    for address in spellings {
        for port in [9191, 9192] {
            let reason = decide(&allowing, None, address, Some(port)).expect_err(address).0;
            assert!(reason.contains("own listeners"), "{address}:{port}: {reason}");
            assert!(decide(&allowing, Some("localhost"), address, Some(port)).is_err(), "{address}:{port} by name");
        }
        assert!(decide(&allowing, None, address, Some(8080)).is_ok(), "{address}:8080 with allow_loopback");
        let reason = decide(&default, None, address, Some(8080)).expect_err(address).0;
        assert!(reason.contains("security.allow_loopback"), "{address}: {reason}");
        assert!(decide(&default, Some("sidecar"), address, None).is_err(), "{address} from the resolver");
    }
    assert!(decide(&allowing, None, "10.0.2.16", Some(9191)).is_ok(), "another host's 9191 is not ours");
}

#[test]
fn names_are_refused_by_pattern_before_any_address() {
    let policy = policy(&[], &["*.blocked.example"], &[], &[]);
    assert!(policy.check_name("x.blocked.example").is_err());
    assert!(policy.check_name("allowed.example").is_ok());
}
