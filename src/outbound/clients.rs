//! IO setup: the HTTP clients that send task requests, all built the same way. A target client resolves names
//! through the outbound policy ([`OutboundResolver`]), follows no redirects itself (the invoker checks every hop),
//! ignores proxy variables in the environment, verifies TLS against the system roots and `http.extra_ca_file`,
//! and may add a proxy, a client certificate and CA certificates of its own (a credential profile's). A token
//! endpoint client is the operator's: no policy, no proxy.
//!
//! Owns: how a client is configured. Does not own: which client a request uses (`crate::http_poll::request`
//! with `crate::credentials`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Certificate, Client, ClientBuilder, Identity};
use url::Url;

use super::guard::{Outbound, OutboundResolver};

/// What every client shares.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The policy target clients resolve through.
    pub outbound: Arc<Outbound>,
    /// Idle connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// Certificates trusted besides the system roots (`http.extra_ca_file`).
    pub extra_roots: Vec<Certificate>,
}

/// A client's own TLS material: PEM files, read when the client is built.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsFiles<'a> {
    /// Client certificate chain (with `key`): mutual TLS.
    pub cert: Option<&'a Path>,
    /// The certificate's private key.
    pub key: Option<&'a Path>,
    /// CA certificates trusted by this client only.
    pub ca: Option<&'a Path>,
}

impl ClientSettings {
    /// A client for task requests, direct or through `proxy`, with `tls`'s material.
    pub fn target(&self, proxy: Option<&Url>, tls: TlsFiles<'_>) -> Result<Client, String> {
        let resolver = OutboundResolver::new(self.outbound.clone(), proxy);
        let mut builder = self
            .base(tls)?
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .tcp_nodelay(true)
            .dns_resolver(Arc::new(resolver))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(proxy) = proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|e| format!("proxy {}: {e}", crate::redact::url_of(proxy)))?;
            builder = builder.proxy(proxy);
        }
        builder.build().map_err(|e| format!("building an HTTP client: {e}"))
    }

    /// A client for an OAuth2 token endpoint: direct, with the CA certificates of `tls` trusted.
    pub fn token_endpoint(&self, tls: TlsFiles<'_>) -> Result<Client, String> {
        let builder = self.base(TlsFiles { cert: None, key: None, ca: tls.ca })?.timeout(Duration::from_secs(30));
        builder.build().map_err(|e| format!("building an HTTP client: {e}"))
    }

    fn base(&self, tls: TlsFiles<'_>) -> Result<ClientBuilder, String> {
        let mut builder =
            Client::builder().user_agent(concat!("conductor-http-worker/", env!("CARGO_PKG_VERSION"))).no_proxy();
        for certificate in &self.extra_roots {
            builder = builder.add_root_certificate(certificate.clone());
        }
        if let Some(ca) = tls.ca {
            for certificate in read_certificates(ca)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        match (tls.cert, tls.key) {
            (Some(cert), Some(key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                let identity = Identity::from_pem(&pem).map_err(|e| {
                    format!("{} and {}: not a PEM certificate and private key: {e}", cert.display(), key.display())
                })?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => return Err("a client certificate needs both its certificate and its key file".into()),
        }
        Ok(builder)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The certificates of a PEM bundle; at least one.
pub fn read_certificates(path: &Path) -> Result<Vec<Certificate>, String> {
    let pem = read(path)?;
    let certificates = Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{}: not a PEM certificate bundle: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{}: holds no certificate", path.display()));
    }
    Ok(certificates)
}
