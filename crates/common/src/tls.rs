//! TLS for every service: `[common] tls_cert` and `tls_key` (PEM) make a service listen with
//! TLS (rustls), and SIGHUP reloads both files without dropping a connection; a bad pair on
//! reload is logged and the old one kept. `[common] tls_ca` (PEM) is the CA the fleet's own
//! clients and the gateway trust, besides the platform's roots, to verify upstreams.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificate and key files a server listens with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The crypto provider every TLS use here shares.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read(key: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{key}: cannot read {}: {e}", path.display()))
}

/// The certificates in a PEM file (`key` names the config key in messages).
pub fn certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key}: {} is not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{key}: {} holds no certificate", path.display()));
    }
    Ok(certs)
}

fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let chain = certificates("common.tls_cert", &files.cert)?;
    let pem = read("common.tls_key", &files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        format!(
            "common.tls_key: {} is not a PEM private key: {e}",
            files.key.display()
        )
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("common.tls_key: {e}"))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| format!("common.tls_key does not belong to common.tls_cert: {e}"))?;
    Ok(certified)
}

/// The current certificate, swapped on reload.
#[derive(Debug)]
pub struct ReloadingCert {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCert {
    /// Loads the pair, or says which file is wrong.
    pub fn open(files: TlsFiles) -> Result<Arc<Self>, String> {
        let provider = provider();
        let current = RwLock::new(Arc::new(load(&files, &provider)?));
        Ok(Arc::new(Self {
            files,
            provider,
            current,
        }))
    }

    /// Reads the files again; on failure the old pair stays.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = Arc::new(load(&self.files, &self.provider)?);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(())
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

/// A TLS acceptor for `files`, reloaded on every SIGHUP for as long as the process runs.
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, String> {
    let cert = ReloadingCert::open(files.clone())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(cert.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    match cert.reload() {
                        Ok(()) => tracing::info!("SIGHUP: TLS certificate and key reloaded"),
                        Err(e) => {
                            tracing::error!(error = %e, "SIGHUP: TLS reload failed; the old certificate stays");
                        }
                    }
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP; TLS files will not reload"),
    }
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A client config trusting the platform's roots and, when given, the fleet's CA.
pub fn client_config(ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let extra = match ca {
        Some(p) => certificates("common.tls_ca", p)?,
        None => Vec::new(),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let verifier = match rustls_platform_verifier::Verifier::new_with_extra_roots(
        extra.iter().cloned(),
        provider(),
    ) {
        Ok(v) => v,
        // A machine without a CA bundle (a slim container) and no tls_ca: plain http
        // upstreams still work; https ones fail verification, saying why.
        Err(e) if extra.is_empty() => {
            tracing::warn!(error = %e, "no CA certificates on this machine: https upstreams cannot be verified (set common.tls_ca)");
            return Ok(builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth());
        }
        Err(e) => return Err(format!("common.tls_ca: {e}")),
    };
    // `dangerous()` is only rustls' door for plugging in a verifier of one's own: this one
    // verifies fully, against the platform's roots plus the fleet's CA.
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}
