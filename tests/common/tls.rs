//! TLS for the tests: a certificate authority of their own, the certificates it issues, and
//! a real handshake (rustls) followed by one HTTP/1.1 request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::client::{parse_response, Response};

/// A test CA and what it signs.
pub struct Ca {
    pub cert: rcgen::Certificate,
    key: KeyPair,
}

/// A server certificate (PEM) and its key (PEM).
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Ca {
    /// A new authority, with a key of its own.
    pub fn new() -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "feedpub test CA");
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// A certificate for localhost and 127.0.0.1, named `name` (its common name), with a key
    /// of its own.
    pub fn issue(&self, name: &str) -> Identity {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Identity {
            cert_pem: cert.pem() + &self.cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// A client trusting only `ca`, offering `alpn`, speaking the default TLS versions.
pub fn client_config(ca: &Ca, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    client_config_for(ca, alpn, rustls::DEFAULT_VERSIONS)
}

/// A client trusting only `ca`, offering `alpn` and only the TLS `versions`.
pub fn client_config_for(
    ca: &Ca,
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.cert.der().to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// What one TLS connection saw: the protocol ALPN chose, the server's certificate, and the
/// answer to `GET path` over HTTP/1.1 (when ALPN did not choose HTTP/2).
pub struct Visit {
    pub alpn: Option<Vec<u8>>,
    pub version: Option<rustls::ProtocolVersion>,
    pub certificate: Vec<u8>,
    pub response: Option<Response>,
}

/// A handshake trusting only `ca`, offering `alpn`, then `GET path` (see [`Visit`]).
pub fn visit(addr: SocketAddr, ca: &Ca, alpn: &[&[u8]], path: &str) -> Visit {
    visit_with(addr, client_config(ca, alpn), path)
}

/// [`visit`] with a client of `config`.
pub fn visit_with(addr: SocketAddr, config: Arc<rustls::ClientConfig>, path: &str) -> Visit {
    let path = path.to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(config);
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
            .await
            .expect("the handshake ends in time")
            .expect("the handshake succeeds");
        let (_, session) = tls.get_ref();
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        let version = session.protocol_version();
        let certificate = session.peer_certificates().unwrap()[0].to_vec();
        let response = if alpn.as_deref() == Some(b"h2") {
            None
        } else {
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            tls.write_all(request.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            let _ = tls.read_to_end(&mut raw).await;
            Some(parse_response(&raw, false))
        };
        Visit {
            alpn,
            version,
            certificate,
            response,
        }
    })
}
