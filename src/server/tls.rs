//! TLS for the exporter's own endpoints: builds a rustls [`ServerConfig`] from the
//! `tls_server_config` section of the web config file (exporter-toolkit format).
//!
//! rustls with the `ring` provider only (the one reqwest already links), so the binary needs
//! no OpenSSL. Go's `tls.ClientAuthType` names are accepted as the exporter-toolkit spells
//! them; the two that ask for a client certificate without verifying it are refused, because
//! an unverified certificate authenticates nobody and rustls has no such mode.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls::{self, server::WebPkiClientVerifier, RootCertStore, ServerConfig};

/// Why a TLS setting cannot be used: the web config key at fault and what to do. The web
/// config adds its file name (this module knows no file format).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key {key}: {msg}")]
pub struct TlsError {
    /// The `tls_server_config.*` key.
    pub key: String,
    pub msg: String,
}

impl TlsError {
    fn new(key: &str, msg: impl Into<String>) -> TlsError {
        TlsError {
            key: key.to_string(),
            msg: msg.into(),
        }
    }
}

/// Whether and how a client certificate is checked (Go's `tls.ClientAuthType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `NoClientCert`: no client certificate is asked for.
    None,
    /// `VerifyClientCertIfGiven`: a certificate is optional, but one that is sent must chain
    /// to `client_ca_file`.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert`: mutual TLS; connections without a valid certificate
    /// are refused during the handshake.
    RequireAndVerify,
}

impl ClientAuth {
    /// Parses the exporter-toolkit spelling.
    pub fn parse(value: &str) -> Result<ClientAuth, TlsError> {
        match value {
            "" | "NoClientCert" => Ok(ClientAuth::None),
            "VerifyClientCertIfGiven" => Ok(ClientAuth::VerifyIfGiven),
            "RequireAndVerifyClientCert" => Ok(ClientAuth::RequireAndVerify),
            "RequestClientCert" | "RequireAnyClientCert" => Err(TlsError::new("tls_server_config.client_auth_type",
                format!(
                    "{value} accepts client certificates without verifying them, which clawprobe (rustls) does not support; use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file"
                ),
            )),
            other => Err(TlsError::new("tls_server_config.client_auth_type",
                format!(
                    "unknown value {other:?}; use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                ),
            )),
        }
    }
}

/// A TLS protocol version as the exporter-toolkit spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// Parses the exporter-toolkit spelling; `key` (min or max version) goes into the error.
    pub fn parse(value: &str, key: &str) -> Result<TlsVersion, TlsError> {
        match value {
            "TLS12" => Ok(TlsVersion::Tls12),
            "TLS13" => Ok(TlsVersion::Tls13),
            "TLS10" | "TLS11" => Err(TlsError::new(
                key,
                format!("{value} is obsolete and not supported (rustls); use TLS12 or TLS13"),
            )),
            other => Err(TlsError::new(
                key,
                format!("unknown TLS version {other:?}; use TLS12 or TLS13"),
            )),
        }
    }
}

/// The validated `tls_server_config`, with paths already resolved against the directory of
/// the web config file (as the exporter-toolkit does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_auth: ClientAuth,
    pub client_ca_file: Option<PathBuf>,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
}

impl TlsSettings {
    /// Files whose change means the TLS config must be rebuilt (certificate rotation).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v = vec![self.cert_file.clone(), self.key_file.clone()];
        v.extend(self.client_ca_file.clone());
        v
    }
}

fn read_certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            TlsError::new(
                key,
                format!("cannot read certificates from {}: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(TlsError::new(
            key,
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

/// Builds the rustls server config. Reads the certificate, key and CA files now; call it
/// again after they change to rotate certificates.
pub fn build(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certs(&settings.cert_file, "tls_server_config.cert_file")?;
    let key = PrivateKeyDer::from_pem_file(&settings.key_file).map_err(|e| {
        // The pem error says what was wrong with the file, never its content.
        TlsError::new(
            "tls_server_config.key_file",
            format!(
                "cannot read a private key from {}: {e}",
                settings.key_file.display()
            ),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| *v >= settings.min_version && *v <= settings.max_version)
    .map(|(_, p)| p)
    .collect();
    if versions.is_empty() {
        return Err(TlsError::new(
            "tls_server_config.min_version",
            "min_version is above max_version",
        ));
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::new("tls_server_config.min_version", e.to_string()))?;
    let builder = match settings.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        mode => {
            let Some(ca_file) = &settings.client_ca_file else {
                return Err(TlsError::new("tls_server_config.client_ca_file",
                    "client_auth_type verifies client certificates, so client_ca_file must name the CA bundle that signs them",
                ));
            };
            let mut roots = RootCertStore::empty();
            for c in read_certs(ca_file, "tls_server_config.client_ca_file")? {
                roots.add(c).map_err(|e| {
                    TlsError::new(
                        "tls_server_config.client_ca_file",
                        format!("{}: {e}", ca_file.display()),
                    )
                })?;
            }
            let mut vb = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if mode == ClientAuth::VerifyIfGiven {
                vb = vb.allow_unauthenticated();
            }
            let verifier = vb
                .build()
                .map_err(|e| TlsError::new("tls_server_config.client_ca_file", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        TlsError::new(
            "tls_server_config.key_file",
            format!(
                "{} and {} do not make a usable certificate/key pair: {e}",
                settings.cert_file.display(),
                settings.key_file.display()
            ),
        )
    })?;
    // The server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
