//! The ceiling for workload a of bench/run: how fast one bare quinn
//! connection moves bytes on the same link, with the same crates Harp uses
//! (quinn, rustls with ring, rcgen) and quinn's default transport settings.
//!
//!   quic-bare server LISTEN CERT_FILE        accept one connection, read one stream to its end,
//!                                            answer with the byte count, exit
//!   quic-bare client SERVER CERT_FILE BYTES  send BYTES (from memory) over one stream
//!
//! The server writes its self-signed certificate to CERT_FILE, and the client
//! trusts exactly that certificate. The client prints one JSON line: bytes,
//! seconds (from the first byte sent to the server's answer) and MB/s.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

const NAME: &str = "quic-bare";
const ALPN: &[u8] = b"harp-bench-bare";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

async fn server(listen: SocketAddr, cert_file: &str) -> Res<()> {
    let ck = rcgen::generate_simple_self_signed(vec![NAME.to_string()])?;
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    std::fs::write(cert_file, cert.as_ref())?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let cfg = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(tls)?));
    let endpoint = quinn::Endpoint::server(cfg, listen)?;
    println!("listening");
    let conn = endpoint.accept().await.ok_or("endpoint closed")?.await?;
    let (mut send, mut recv) = conn.accept_bi().await?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total: u64 = 0;
    while let Some(n) = recv.read(&mut buf).await? {
        total += n as u64;
    }
    send.write_all(&total.to_be_bytes()).await?;
    send.finish()?;
    conn.closed().await;
    Ok(())
}

async fn client(server: SocketAddr, cert_file: &str, bytes: u64) -> Res<()> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(std::fs::read(cert_file)?))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let cfg = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls)?));
    let mut endpoint = quinn::Endpoint::client("0.0.0.0:0".parse()?)?;
    endpoint.set_default_client_config(cfg);
    let conn = endpoint.connect(server, NAME)?.await?;
    let (mut send, mut recv) = conn.open_bi().await?;
    let block = vec![0x5au8; 1 << 20];
    let start = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        send.write_all(&block[..n]).await?;
        left -= n as u64;
    }
    send.finish()?;
    let mut answer = [0u8; 8];
    recv.read_exact(&mut answer).await?;
    let secs = start.elapsed().as_secs_f64();
    conn.close(0u32.into(), b"done");
    endpoint.wait_idle().await;
    let got = u64::from_be_bytes(answer);
    if got != bytes {
        return Err(format!("server received {got} bytes, sent {bytes}").into());
    }
    println!(
        "{{\"bytes\":{bytes},\"seconds\":{secs:.4},\"MB_per_s\":{:.1}}}",
        bytes as f64 / secs / 1e6
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["server", listen, cert] => server(listen.parse()?, cert).await,
        ["client", addr, cert, bytes] => client(addr.parse()?, cert, bytes.parse()?).await,
        _ => Err("usage: quic-bare server LISTEN CERT_FILE | client SERVER CERT_FILE BYTES".into()),
    }
}
