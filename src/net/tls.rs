//! TLS client setup over the `openssl` crate.
//!
//! Why not `native-tls`, which wraps the same library on Linux: its
//! connector always loads the system CA bundle file, parsing every one of
//! its ~150 certificates (twice, through `openssl-probe` and the default
//! paths). On a sync where nothing changed that parse was 80% of the CPU
//! time and half of the peak memory. Here the system roots come from the
//! hashed certificate directory (`/etc/ssl/certs` on Debian), which OpenSSL
//! reads lazily: only the issuer a server actually needs is loaded. Where
//! no hashed directory exists, the default paths (bundle file included) are
//! used, so trust is never narrower than OpenSSL's own defaults.

use std::collections::HashMap;
use std::ffi::CStr;
use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use openssl::ssl::{
    HandshakeError, Ssl, SslContext, SslContextBuilder, SslMethod, SslMode, SslOptions, SslStream,
    SslVerifyMode, SslVersion,
};
use openssl::x509::verify::X509CheckFlags;
use openssl::x509::X509VerifyResult;

use super::tcp::Resuming;
use super::{NetError, Result};

/// A TLS-wrapped TCP stream; the TCP calls resume after `EINTR`.
pub type TlsStream = SslStream<Resuming<TcpStream>>;

/// Performs the client handshake with `host`, verifying its certificate
/// chain against the system roots plus `ca_file`, and its name.
pub fn connect(host: &str, ca_file: Option<&Path>, tcp: TcpStream) -> Result<TlsStream> {
    let context = context(ca_file)?;
    let tls_error = |e: openssl::error::ErrorStack| NetError::Tls(e.to_string());
    let mut ssl = Ssl::new(&context).map_err(tls_error)?;
    let param = ssl.param_mut();
    param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
    match host.parse::<IpAddr>() {
        Ok(ip) => param.set_ip(ip).map_err(tls_error)?,
        Err(_) => {
            param.set_host(host).map_err(tls_error)?;
            ssl.set_hostname(host).map_err(tls_error)?;
        }
    }
    match ssl.connect(Resuming(tcp)) {
        Ok(stream) => Ok(stream),
        Err(HandshakeError::SetupFailure(e)) => Err(tls_error(e)),
        Err(HandshakeError::Failure(mid)) => {
            let verify = mid.ssl().verify_result();
            let detail = if verify != X509VerifyResult::OK {
                let mut detail = format!("certificate verify failed: {}", verify.error_string());
                if is_name_mismatch(verify) {
                    let names = certificate_names(mid.ssl());
                    if !names.is_empty() {
                        detail.push_str(&format!("; {CERTIFICATE_NAMES}{}", names.join(", ")));
                    }
                }
                detail
            } else {
                mid.error().to_string()
            };
            Err(NetError::Tls(format!(
                "handshake with {host} failed: {detail}"
            )))
        }
        // A blocking socket only reports WouldBlock when its read timeout fired.
        Err(HandshakeError::WouldBlock(mid)) => {
            let timeout = mid
                .get_ref()
                .get_ref()
                .read_timeout()
                .ok()
                .flatten()
                .unwrap_or_default();
            Err(NetError::Timeout(timeout))
        }
    }
}

/// Where a name mismatch is reported, the words before the names the
/// server's certificate has (read by `diagnose`).
pub const CERTIFICATE_NAMES: &str = "the certificate is for ";

/// X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
fn is_name_mismatch(verify: X509VerifyResult) -> bool {
    matches!(verify.as_raw(), 62 | 64)
}

/// The names the server's certificate is for: its subjectAltName DNS
/// names and addresses, else its subject's common name.
fn certificate_names(ssl: &openssl::ssl::SslRef) -> Vec<String> {
    let leaf = ssl.peer_certificate().or_else(|| {
        ssl.peer_cert_chain()
            .and_then(|c| c.get(0).map(|c| c.to_owned()))
    });
    let Some(cert) = leaf else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject_alt_names()
        .map(|sans| {
            sans.iter()
                .filter_map(|name| {
                    name.dnsname().map(str::to_string).or_else(|| {
                        let ip = name.ipaddress()?;
                        let ip = match ip.len() {
                            4 => IpAddr::from(<[u8; 4]>::try_from(ip).ok()?),
                            16 => IpAddr::from(<[u8; 16]>::try_from(ip).ok()?),
                            _ => return None,
                        };
                        Some(ip.to_string())
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        names = cert
            .subject_name()
            .entries_by_nid(openssl::nid::Nid::COMMONNAME)
            .filter_map(|e| e.data().to_string().ok())
            .collect();
    }
    // The server chose these bytes: nothing unprintable reaches a terminal.
    names
        .into_iter()
        .map(|n| n.chars().filter(|c| !c.is_control()).take(255).collect())
        .take(20)
        .collect()
}

/// One context per extra trust root, built once per process and shared by
/// every connection (workers, reconnects).
fn context(ca_file: Option<&Path>) -> Result<SslContext> {
    static CONTEXTS: OnceLock<Mutex<HashMap<Option<PathBuf>, SslContext>>> = OnceLock::new();
    let cache = CONTEXTS.get_or_init(|| Mutex::new(HashMap::new()));
    let key = ca_file.map(PathBuf::from);
    if let Some(c) = cache.lock().expect("TLS context cache").get(&key) {
        return Ok(c.clone());
    }
    let context = build_context(ca_file)?;
    cache
        .lock()
        .expect("TLS context cache")
        .insert(key, context.clone());
    Ok(context)
}

fn build_context(ca_file: Option<&Path>) -> Result<SslContext> {
    let tls_error = |e: openssl::error::ErrorStack| NetError::Tls(e.to_string());
    let mut builder = SslContextBuilder::new(SslMethod::tls_client()).map_err(tls_error)?;
    builder.set_options(SslOptions::ALL | SslOptions::NO_COMPRESSION);
    builder
        .set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(tls_error)?;
    builder.set_mode(SslMode::AUTO_RETRY | SslMode::RELEASE_BUFFERS);
    builder.set_verify(SslVerifyMode::PEER);
    match system_roots() {
        SystemRoots::Lazy { dir, file } => builder
            .load_verify_locations(file.as_deref(), Some(&dir))
            .map_err(tls_error)?,
        SystemRoots::Defaults => builder.set_default_verify_paths().map_err(tls_error)?,
    }
    if let Some(path) = ca_file {
        // Read it ourselves first, for an error that names the problem.
        let pem = std::fs::read(path)
            .map_err(|e| NetError::Tls(format!("cannot read CA file {}: {e}", path.display())))?;
        let certs = openssl::x509::X509::stack_from_pem(&pem)
            .map_err(|e| NetError::Tls(format!("cannot load CA file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(NetError::Tls(format!(
                "CA file {} holds no PEM certificate",
                path.display()
            )));
        }
        let store = builder.cert_store_mut();
        for cert in certs {
            store.add_cert(cert).map_err(tls_error)?;
        }
    }
    Ok(builder.build())
}

/// Where the system's trusted roots come from.
#[derive(Debug, PartialEq)]
enum SystemRoots {
    /// A hashed directory, read on demand; plus `SSL_CERT_FILE` when set.
    Lazy { dir: PathBuf, file: Option<PathBuf> },
    /// OpenSSL's default file and directory.
    Defaults,
}

/// `SSL_CERT_DIR` (as OpenSSL itself honours it) or OpenSSL's built-in
/// directory, when it holds hashed links, plus `SSL_CERT_FILE` unless that
/// is the directory's own bundle; else OpenSSL's defaults.
fn system_roots() -> SystemRoots {
    let dir = std::env::var_os("SSL_CERT_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(openssl_cert_dir);
    let file = std::env::var_os("SSL_CERT_FILE")
        .filter(|f| !f.is_empty())
        .map(PathBuf::from);
    match dir {
        Some(dir) if has_hashed_certs(&dir) => {
            let file = file.filter(|f| !is_bundle_of(f, &dir));
            SystemRoots::Lazy { dir, file }
        }
        _ => SystemRoots::Defaults,
    }
}

/// Whether `file` is the bundle kept inside the hashed directory `dir`, as
/// `update-ca-certificates` keeps `/etc/ssl/certs/ca-certificates.crt`:
/// it holds the same certificates as the directory's hashed links, so
/// parsing it too would only cost time.
fn is_bundle_of(file: &Path, dir: &Path) -> bool {
    let (Ok(file), Ok(dir)) = (file.canonicalize(), dir.canonicalize()) else {
        return false;
    };
    file.parent() == Some(dir.as_path())
}

fn openssl_cert_dir() -> Option<PathBuf> {
    openssl_sys::init();
    // SAFETY: returns a pointer to a static NUL-terminated string.
    let dir = unsafe { CStr::from_ptr(openssl_sys::X509_get_default_cert_dir()) };
    dir.to_str().ok().map(PathBuf::from)
}

/// Whether `dir` holds at least one `<8 hex digits>.<n>` entry, the names
/// OpenSSL looks certificates up by.
fn has_hashed_certs(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .filter_map(|e| e.ok())
        .any(|e| is_hashed_name(&e.file_name().to_string_lossy()))
}

fn is_hashed_name(name: &str) -> bool {
    match name.split_once('.') {
        Some((hash, n)) => {
            hash.len() == 8
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        assert!(is_hashed_name("9d04f354.0"));
        assert!(is_hashed_name("ABCDEF01.12"));
        assert!(!is_hashed_name("ca-certificates.crt"));
        assert!(!is_hashed_name("9d04f354"));
        assert!(!is_hashed_name("9d04f354."));
        assert!(!is_hashed_name("9d04f35.0"));
        assert!(!is_hashed_name("9d04f354.r0"));
    }

    #[test]
    fn a_directory_without_hashed_links_is_not_used_lazily() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_hashed_certs(dir.path()));
        std::fs::write(dir.path().join("bundle.pem"), "x").unwrap();
        assert!(!has_hashed_certs(dir.path()));
        std::fs::write(dir.path().join("0123abcd.0"), "x").unwrap();
        assert!(has_hashed_certs(dir.path()));
        assert!(!has_hashed_certs(&dir.path().join("missing")));
    }

    #[test]
    fn a_bundle_inside_the_hashed_directory_is_not_parsed_again() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::write(certs.join("bundle.crt"), "x").unwrap();
        std::fs::write(dir.path().join("other.crt"), "x").unwrap();
        std::os::unix::fs::symlink(&certs, dir.path().join("link")).unwrap();
        assert!(is_bundle_of(&certs.join("bundle.crt"), &certs));
        assert!(is_bundle_of(&dir.path().join("link/bundle.crt"), &certs));
        assert!(!is_bundle_of(&dir.path().join("other.crt"), &certs));
        assert!(!is_bundle_of(&certs.join("missing.crt"), &certs));
    }
}
