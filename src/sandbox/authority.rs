//! The local sandbox's certificate authority: made when the sandbox starts, its certificate
//! written to the sandbox's state for clients to trust, and one server certificate it signed
//! for `127.0.0.1` and `localhost`, which the data plane's endpoints present over TLS.
//!
//! Rules: a new authority every start (nothing to revoke; a stopped sandbox's is useless); the
//! private keys never leave the process. It knows nothing of who uses the certificate.

use std::sync::Arc;

/// A sandbox's authority and the server side of its TLS.
pub struct Authority {
    /// The authority's certificate (PEM): what clients trust.
    pub pem: String,
    server: Arc<rustls::ServerConfig>,
}

impl Authority {
    /// Makes the authority and its server certificate.
    pub fn new() -> Result<Self, String> {
        let fail = |e: rcgen::Error| format!("cannot make the sandbox's certificates: {e}");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "firedrill local sandbox");
        let issuer =
            rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().map_err(fail)?)
                .map_err(fail)?;
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .map_err(fail)?;
        let key = rcgen::KeyPair::generate().map_err(fail)?;
        let cert = params.signed_by(&key, &issuer).map_err(fail)?;
        let der_key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
            .map_err(|e| format!("the sandbox's key: {e}"))?;
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("the sandbox's TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der_key)
        .map_err(|e| format!("the sandbox's TLS: {e}"))?;
        Ok(Self {
            pem: issuer.pem(),
            server: Arc::new(server),
        })
    }

    /// What accepts TLS with the server certificate.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server.clone())
    }
}
