//! TLS: the certificate chain and private key files (`tls_cert`, `tls_key`, PEM) made into a
//! rustls server configuration that offers HTTP/2 and HTTP/1.1 by ALPN, with TLS 1.2 and 1.3
//! only; and the swappable configuration a SIGHUP reloads, so that a renewed certificate is
//! presented to the next handshake while a broken renewal keeps the old one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// The ALPN protocols offered, preferred first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why the certificate or key cannot be used. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The certificate file holds no certificate, or a broken one.
    #[error("{}: no PEM certificate (`-----BEGIN CERTIFICATE-----`) could be read{}", path.display(), in_parentheses(.detail))]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said, if anything.
        detail: Option<String>,
    },
    /// The key file holds no private key, or a broken one.
    #[error("{}: no PEM private key (PKCS#8, PKCS#1 or SEC1) could be read{}", path.display(), in_parentheses(.detail))]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said, if anything.
        detail: Option<String>,
    },
    /// The key is not the certificate's, or cannot be used with it.
    #[error("{}: the private key cannot be used with the certificate of {}: {message}", key.display(), cert.display())]
    Unusable {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        message: String,
    },
}

fn in_parentheses(detail: &Option<String>) -> String {
    detail.as_ref().map_or(String::new(), |d| format!(" ({d})"))
}

/// The files of a TLS identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, PEM, the server's certificate first.
    pub cert: PathBuf,
    /// The private key, PEM.
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads both files and makes the server configuration: the chain, the key (which must be
    /// the certificate's), TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`.
    pub fn load(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let chain = read_chain(&self.cert)?;
        let key = read_key(&self.key)?;
        // The ring provider, named here rather than taken from the process default, which
        // other crates of the build could make ambiguous.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Unusable {
                cert: self.cert.clone(),
                key: self.key.clone(),
                message: e.to_string(),
            })?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Unusable {
                cert: self.cert.clone(),
                key: self.key.clone(),
                message: e.to_string(),
            })?;
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::NoCertificate {
            path: path.to_path_buf(),
            detail: Some(e.to_string()),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
            detail: None,
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::NoKey {
        path: path.to_path_buf(),
        detail: Some(e.to_string()),
    })
}

/// The configuration every new handshake uses, and the files it was read from.
#[derive(Debug, Clone)]
pub struct Tls {
    /// Where the certificate and key are read from.
    pub files: TlsFiles,
    /// The configuration of the next handshake.
    pub current: Arc<ArcSwap<ServerConfig>>,
}

impl Tls {
    /// Loads the files: an error here stops the start.
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let config = files.load()?;
        Ok(Tls {
            files,
            current: Arc::new(ArcSwap::new(config)),
        })
    }

    /// Reads the files again (SIGHUP): the next handshakes present the new certificate. On
    /// an error the configuration in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = self.files.load()?;
        self.current.store(config);
        Ok(())
    }

    /// The configuration for a handshake starting now.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }
}
