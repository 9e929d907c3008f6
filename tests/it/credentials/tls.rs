//! Mutual TLS: a target that requires a client certificate, reached with a profile's certificate and CA bundle
//! (made in the test with rcgen). The profile's CA is trusted for its hosts only.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::{self, pki_types};

use super::{Fixture, status_and_reason, temp_dir};

/// A CA, a server certificate for `localhost` and 127.0.0.1, and a client certificate, as PEM.
struct Pki {
    ca: String,
    server: (rcgen::Certificate, KeyPair),
    client: (String, String),
    ca_der: pki_types::CertificateDer<'static>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let server = CertificateParams::new(names).unwrap().signed_by(&server_key, &ca, &ca_key).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::new()).unwrap();
    client_params.distinguished_name = DistinguishedName::new();
    client_params.distinguished_name.push(DnType::CommonName, "conductor-http-worker");
    let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();
    Pki {
        ca: ca.pem(),
        ca_der: ca.der().clone(),
        server: (server, server_key),
        client: (client.pem(), client_key.serialize_pem()),
    }
}

/// An HTTPS target that requires a client certificate signed by the CA; counts the requests it served.
async fn mtls_target(pki: &Pki) -> (u16, Arc<AtomicUsize>) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().unwrap();
    let key = pki_types::PrivateKeyDer::Pkcs8(pki_types::PrivatePkcs8KeyDer::from(pki.server.1.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![pki.server.0.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, counter) = (acceptor.clone(), counter.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let presented = tls.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty());
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let body = format!(r#"{{"clientCertificate":{presented}}}"#);
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, served)
}

#[tokio::test]
async fn a_client_certificate_and_ca_bundle_serve_the_profiles_hosts_only() {
    let pki = pki();
    let (port, served) = mtls_target(&pki).await;
    let dir = temp_dir();
    for (name, pem) in [("ca.crt", &pki.ca), ("tls.crt", &pki.client.0), ("tls.key", &pki.client.1)] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    let profiles = r#"
[targets.mtls]
hosts = ["localhost"]
tls = { client_cert_file = "{dir}/tls.crt", client_key_file = "{dir}/tls.key", ca_file = "{dir}/ca.crt" }
"#;
    let mut fixture = Fixture::start("it_cred_mtls", profiles, dir, &[]).await;
    let covered = fixture.call(json!({"uri": format!("https://localhost:{port}/jobs")})).await;
    assert_eq!(status_and_reason(&covered).0, "COMPLETED", "{covered:#}\n{}", fixture.log_text());
    assert_eq!(covered["outputData"]["response"]["body"], json!({"clientCertificate": true}));

    // The same server by another name: the profile does not cover it, so neither its CA nor its certificate apply.
    let other = fixture.call(json!({"uri": format!("https://127.0.0.1:{port}/jobs")})).await;
    let (status, reason) = status_and_reason(&other);
    assert_eq!(status, "FAILED", "{other:#}");
    assert!(reason.contains("certificate"), "the CA is not trusted outside the profile: {reason}");
    assert_eq!(served.load(Ordering::SeqCst), 1, "only the covered request was served");
    let key_body: String = pki.client.1.lines().filter(|l| !l.starts_with("-----")).collect();
    fixture.assert_no_secret(&[&key_body[..40]], &[&covered, &other]).await;
}
