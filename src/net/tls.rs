//! Mutual TLS for QUIC, with identity = the device key.
//!
//! Each device presents a self-signed X.509 certificate whose key is its
//! ed25519 device key. Nothing else in the certificate matters (names,
//! dates and issuer are ignored): the verifiers take the certificate's
//! public key, hash it to a device ID, and accept the peer only if that ID
//! is trusted (and, when dialling, is the device we meant to reach). TLS
//! 1.3's CertificateVerify then proves the peer holds that key. Both sides
//! check: a device that is not trusted fails in the handshake, whichever
//! side it is on. TLS 1.3 only, ring provider, ALPN `harp/1`.
//!
//! No session resumption, in either direction: a resumed TLS 1.3 handshake
//! restores the peer's certificate from the ticket without running the
//! verifier, so a device untrusted since its ticket was issued would get
//! back in. The server keeps no sessions and sends no tickets; the client
//! offers none.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::VerifyingKey;
use parking_lot::{Mutex, RwLock};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::error::{HarpError, Result};
use crate::identity::{DeviceId, DeviceKey};

/// The ALPN protocol id; its number is the protocol's major version.
pub const ALPN: &[u8] = b"harp/2";

/// The set of trusted device IDs, shared with the verifiers so that trust
/// changes apply to the next handshake.
pub type Trusted = Arc<RwLock<HashSet<DeviceId>>>;

/// This device's certificate and key, as rustls wants them.
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn tls_err(what: &str) -> impl Fn(String) -> HarpError + '_ {
    move |e| HarpError::Internal(format!("{what}: {e}"))
}

impl Identity {
    /// A self-signed certificate for the device key.
    pub fn new(key: &DeviceKey) -> Result<Self> {
        let e = tls_err("building the device certificate");
        let der = key.pkcs8_der().map_err(|x| e(x.to_string()))?;
        let pkcs8 = PrivatePkcs8KeyDer::from(der);
        let kp = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
            .map_err(|x| e(x.to_string()))?;
        if kp.public_key_raw() != key.public().as_bytes() {
            return Err(e("the certificate key is not the device key".into()));
        }
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|x| e(x.to_string()))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "harp device");
        let cert = params.self_signed(&kp).map_err(|x| e(x.to_string()))?;
        Ok(Identity {
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(pkcs8),
        })
    }
}

/// The device ID a certificate's key belongs to.
pub fn cert_device_id(cert: &CertificateDer<'_>) -> std::result::Result<DeviceId, rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
    let ee = webpki::EndEntityCert::try_from(cert).map_err(|_| bad())?;
    let spki = ee.subject_public_key_info();
    let vk = VerifyingKey::from_public_key_der(spki.as_ref()).map_err(|_| bad())?;
    Ok(DeviceId::of(&vk))
}

/// The device at the other end of an established connection.
pub fn peer_device(conn: &quinn::Connection) -> Option<DeviceId> {
    let certs = conn
        .peer_identity()?
        .downcast::<Vec<CertificateDer<'static>>>()
        .ok()?;
    cert_device_id(certs.first()?).ok()
}

/// The device ID the peer's certificate named in a handshake (whether it
/// was let in or not): what the log shows for a refused handshake, so an
/// admin can tell whom to trust. Not proof: a refused peer never showed
/// that it holds the key.
pub type Claimed = Arc<Mutex<Option<DeviceId>>>;

#[derive(Debug)]
struct Pinned {
    trusted: Trusted,
    /// When dialling: the one device we mean to reach.
    expected: Option<DeviceId>,
    algs: WebPkiSupportedAlgorithms,
    /// Where the certificate's device ID is recorded.
    claimed: Claimed,
}

impl Pinned {
    fn check(&self, ee: &CertificateDer<'_>) -> std::result::Result<(), rustls::Error> {
        let id = cert_device_id(ee)?;
        *self.claimed.lock() = Some(id);
        if self.expected.is_some_and(|want| want != id) {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName,
            ));
        }
        if !self.trusted.read().contains(&id) {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(())
    }

    fn tls13(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme != SignatureScheme::ED25519 {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        verify_tls13_signature(msg, cert, dss, &self.algs)
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        ee: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.check(ee).map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not used".into()))
    }

    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(msg, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

impl ClientCertVerifier for Pinned {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        ee: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        self.check(ee).map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not used".into()))
    }

    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(msg, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Request streams a peer may have open at once (the requester limits
/// itself to 64 chunk requests in flight, plus hedges and manifests).
pub const MAX_BIDI_STREAMS: u32 = 128;
/// Entry and hello streams a peer may have open at once (read one after
/// the other, so more would only wait).
pub const MAX_UNI_STREAMS: u32 = 16;
/// Bytes a peer may send on one stream before we read them.
pub const STREAM_WINDOW: u32 = 1_250_000;
/// Bytes a peer may send on a whole connection before we read them: with
/// the stream limits, what bounds the memory one peer's unread data takes.
pub const CONNECTION_WINDOW: u32 = 32 * 1024 * 1024;

fn transport() -> Result<Arc<quinn::TransportConfig>> {
    let mut t = quinn::TransportConfig::default();
    // quinn's defaults are 100 streams of each kind and an unbounded
    // connection window; a trusted but hostile peer gets no more than this.
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(MAX_BIDI_STREAMS));
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(MAX_UNI_STREAMS));
    t.stream_receive_window(quinn::VarInt::from_u32(STREAM_WINDOW));
    t.receive_window(quinn::VarInt::from_u32(CONNECTION_WINDOW));
    t.max_idle_timeout(Some(
        quinn::IdleTimeout::try_from(Duration::from_secs(30))
            .map_err(|e| HarpError::Internal(e.to_string()))?,
    ));
    t.keep_alive_interval(Some(Duration::from_secs(5)));
    Ok(Arc::new(t))
}

/// The endpoint's server side: requires a trusted client certificate.
pub fn server_config(id: &Identity, trusted: Trusted) -> Result<quinn::ServerConfig> {
    server_config_claimed(id, trusted).map(|(cfg, _)| cfg)
}

/// A server configuration for one incoming connection, with where its
/// verifier records the device ID the client's certificate names (for the
/// log, when the handshake is refused).
pub fn server_config_claimed(
    id: &Identity,
    trusted: Trusted,
) -> Result<(quinn::ServerConfig, Claimed)> {
    let e = tls_err("building the QUIC server configuration");
    let p = provider();
    let claimed = Claimed::default();
    let v = Arc::new(Pinned {
        trusted,
        expected: None,
        algs: p.signature_verification_algorithms,
        claimed: claimed.clone(),
    });
    let mut tls = rustls::ServerConfig::builder_with_provider(p)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|x| e(x.to_string()))?
        .with_client_cert_verifier(v)
        .with_single_cert(vec![id.cert.clone()], id.key.clone_key())
        .map_err(|x| e(x.to_string()))?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    // No resumption: every handshake runs the verifier against the trust
    // list as it is now (see the module comment).
    tls.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    tls.send_tls13_tickets = 0;
    tls.max_early_data_size = 0;
    let quic = QuicServerConfig::try_from(tls).map_err(|x| e(x.to_string()))?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(quic));
    cfg.transport_config(transport()?);
    Ok((cfg, claimed))
}

/// A client configuration for dialling `expected`, and only it.
pub fn client_config(
    id: &Identity,
    trusted: Trusted,
    expected: DeviceId,
) -> Result<quinn::ClientConfig> {
    let e = tls_err("building the QUIC client configuration");
    let p = provider();
    let v = Arc::new(Pinned {
        trusted,
        expected: Some(expected),
        algs: p.signature_verification_algorithms,
        claimed: Claimed::default(),
    });
    let mut tls = rustls::ClientConfig::builder_with_provider(p)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|x| e(x.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(v)
        .with_client_auth_cert(vec![id.cert.clone()], id.key.clone_key())
        .map_err(|x| e(x.to_string()))?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    // No resumption (see the module comment): a resumed handshake would
    // not check the server's certificate against the trust list again.
    tls.resumption = rustls::client::Resumption::disabled();
    tls.enable_early_data = false;
    let quic = QuicClientConfig::try_from(tls).map_err(|x| e(x.to_string()))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
    cfg.transport_config(transport()?);
    Ok(cfg)
}
