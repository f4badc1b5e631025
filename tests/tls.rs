//! TLS through `feedpub serve` on a real socket, with certificates made in the test (rcgen)
//! and a rustls client that trusts only the test's CA: HTTP/2 and HTTP/1.1 by ALPN, feeds read
//! over https, a renewed certificate presented after SIGHUP while a broken renewal keeps the
//! old one, start-up errors naming the file, handshakes that stall or are garbage (1,000 at
//! once while readers are served in under 100 ms), and SSL 3.0, TLS 1.0 and 1.1 refused.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const STARTUP: Duration = Duration::from_secs(30);

fn write_identity(workspace: &Workspace, identity: &Identity) {
    fs::write(workspace.path("cert.pem"), &identity.cert_pem).unwrap();
    fs::write(workspace.path("key.pem"), &identity.key_pem).unwrap();
}

/// A workspace with the corpus, serving TLS with `identity`.
fn tls_site(identity: &Identity, extra: &str) -> Workspace {
    let workspace = Workspace::with_corpus(&format!(
        "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n{extra}"
    ));
    write_identity(&workspace, identity);
    workspace
}

fn start(workspace: &Workspace) -> ServerProcess {
    let mut server = ServerProcess::spawn(serve_command(&workspace.config));
    server.wait_for_banner(STARTUP);
    server
}

#[test]
fn feeds_are_served_over_https_with_http2_offered_by_alpn() {
    let ca = Ca::new();
    let identity = ca.issue("first");
    let workspace = tls_site(&identity, "");
    let server = start(&workspace);
    assert!(
        server
            .stdout()
            .contains("feedpub is serving on https://127.0.0.1:"),
        "{}",
        server.stdout()
    );
    assert!(server
        .stdout()
        .contains("point a feed reader at: https://127.0.0.1:"));
    let addr = server.addr();

    let h2 = visit(addr, &ca, &[b"h2", b"http/1.1"], "/rss.xml");
    assert_eq!(
        h2.alpn.as_deref(),
        Some(&b"h2"[..]),
        "HTTP/2 is chosen when offered"
    );
    assert_eq!(h2.certificate, identity.der);

    let h1 = visit(addr, &ca, &[b"http/1.1"], "/rss.xml");
    assert_eq!(h1.alpn.as_deref(), Some(&b"http/1.1"[..]));
    let response = h1.response.unwrap();
    assert_eq!(response.status, 200);
    let feed = check_feed("rss.xml over https", &response.body);
    assert!(!feed.entries.is_empty());
    // The self link says https: the base URL follows the listener.
    assert!(response.text().contains(&format!("https://{addr}/rss.xml")));

    // A client that offers no ALPN at all speaks HTTP/1.1.
    let plain = visit(addr, &ca, &[], "/atom.xml");
    assert_eq!(plain.alpn, None);
    assert_eq!(plain.response.unwrap().status, 200);

    // curl, trusting the test CA, gets HTTP/2 and a 304 for its ETag.
    fs::write(workspace.path("ca.pem"), ca.cert.pem()).unwrap();
    let url = format!("https://localhost:{}/feed.json", addr.port());
    let curl = |args: &[&str]| {
        std::process::Command::new("curl")
            .args(["-sS", "--http2", "--cacert"])
            .arg(workspace.path("ca.pem"))
            .args(["--resolve", &format!("localhost:{}:127.0.0.1", addr.port())])
            .args(args)
            .arg(&url)
            .output()
            .expect("curl runs")
    };
    let out = curl(&["-o", "/dev/null", "-w", "%{http_version} %{http_code}"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2 200", "{out:?}");
    let head = curl(&["-D", "-", "-o", "/dev/null"]);
    let head = String::from_utf8_lossy(&head.stdout).to_string();
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap_or_else(|| panic!("an etag in {head}"))
        .trim()
        .to_string();
    let out = curl(&[
        "-H",
        &format!("If-None-Match: {etag}"),
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2 304", "{out:?}");
}

/// Waits until a new handshake presents `der`.
fn wait_for_certificate(addr: SocketAddr, ca: &Ca, der: &[u8], what: &str) {
    wait_until(Duration::from_secs(20), what, || {
        visit(addr, ca, &[b"http/1.1"], "/healthz").certificate == der
    });
}

#[test]
fn sighup_presents_a_renewed_certificate_and_a_broken_renewal_keeps_the_old_one() {
    let ca = Ca::new();
    let first = ca.issue("first");
    let workspace = tls_site(&first, "");
    let mut server = start(&workspace);
    let addr = server.addr();
    assert_eq!(visit(addr, &ca, &[b"http/1.1"], "/").certificate, first.der);

    // Renewed: a new certificate and a new key, replaced in place as an ACME client does.
    let second = ca.issue("second");
    write_identity(&workspace, &second);
    assert_eq!(
        visit(addr, &ca, &[b"http/1.1"], "/").certificate,
        first.der,
        "nothing changes before the SIGHUP"
    );
    server.hup();
    wait_for_certificate(
        addr,
        &ca,
        &second.der,
        "the renewed certificate after SIGHUP",
    );

    // Broken renewals: garbage, a missing file, a key that is not the certificate's.
    let third = ca.issue("third");
    type Breakage<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let breakages: [Breakage; 3] = [
        (
            "cert.pem",
            Box::new(|| fs::write(workspace.path("cert.pem"), "not a certificate\n").unwrap()),
        ),
        (
            "key.pem",
            Box::new(|| {
                fs::write(workspace.path("cert.pem"), &second.cert_pem).unwrap();
                fs::remove_file(workspace.path("key.pem")).unwrap();
            }),
        ),
        (
            "key.pem",
            Box::new(|| {
                fs::write(workspace.path("cert.pem"), &second.cert_pem).unwrap();
                fs::write(workspace.path("key.pem"), &third.key_pem).unwrap();
            }),
        ),
    ];
    for (n, (file, breakage)) in breakages.iter().enumerate() {
        breakage();
        let errors_before = server
            .stderr()
            .matches("the certificate in use stays")
            .count();
        server.hup();
        wait_until(
            Duration::from_secs(20),
            "the failed reload to be logged",
            || {
                server
                    .stderr()
                    .matches("the certificate in use stays")
                    .count()
                    > errors_before
            },
        );
        let stderr = server.stderr();
        let line = stderr
            .lines()
            .filter(|l| l.contains("the certificate in use stays"))
            .nth(errors_before)
            .unwrap()
            .to_string();
        assert!(
            line.contains(file),
            "breakage {n}: the error names {file}: {line}"
        );
        let seen = visit(addr, &ca, &[b"http/1.1"], "/rss.xml");
        assert_eq!(
            seen.certificate, second.der,
            "breakage {n}: the renewed certificate stays"
        );
        assert_eq!(
            seen.response.unwrap().status,
            200,
            "breakage {n}: still serving"
        );
    }
    assert!(server.running());
}

#[test]
fn a_bad_certificate_or_key_stops_the_start_with_exit_2_naming_the_file() {
    let ca = Ca::new();
    let good = ca.issue("good");
    let other = ca.issue("other");
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            "not a certificate\n",
            &good.key_pem,
            "cert.pem",
            "no PEM certificate",
        ),
        (
            &good.cert_pem,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "key.pem",
            "private key",
        ),
        (
            &good.cert_pem,
            &other.key_pem,
            "key.pem",
            "cannot be used with the certificate",
        ),
        ("", "", "cert.pem", "no PEM certificate"),
    ];
    for (cert, key, file, message) in cases {
        let workspace = Workspace::with_corpus("tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"");
        fs::write(workspace.path("cert.pem"), cert).unwrap();
        fs::write(workspace.path("key.pem"), key).unwrap();
        let (status, _, stderr) = serve_to_exit(&workspace.config);
        assert_eq!(status.code(), Some(2), "{file}: {stderr}");
        assert!(
            stderr.contains(&format!("{file}:")) && stderr.contains(message),
            "{file}: {stderr}"
        );
    }
    let workspace = Workspace::with_corpus("tls_cert = \"missing.pem\"\ntls_key = \"key.pem\"");
    let (status, _, stderr) = serve_to_exit(&workspace.config);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing.pem: cannot read"), "{stderr}");
    let workspace = Workspace::with_corpus("tls_cert = \"cert.pem\"");
    let (status, _, stderr) = serve_to_exit(&workspace.config);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid value for `tls_key`"), "{stderr}");
}

/// How long the server takes to close a connection that sent `bytes` and then nothing.
fn closed_after(addr: SocketAddr, bytes: &[u8]) -> Duration {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(bytes).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return start.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn a_stalled_or_garbage_handshake_is_cut_and_readers_are_still_served() {
    let ca = Ca::new();
    let identity = ca.issue("server");
    let workspace = tls_site(&identity, "header_read_timeout_secs = 1");
    let server = start(&workspace);
    let addr = server.addr();

    // Nothing at all, and half a ClientHello: cut by the header read timeout.
    let silent = closed_after(addr, b"");
    assert!(
        silent < Duration::from_secs(5),
        "silent client closed after {silent:?}"
    );
    let half_hello = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let stalled = closed_after(addr, &half_hello);
    assert!(
        stalled < Duration::from_secs(5),
        "stalled handshake closed after {stalled:?}"
    );
    // Plain HTTP on the TLS port is not a ClientHello: refused at once.
    let plain = closed_after(addr, b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        plain < Duration::from_secs(1),
        "plain HTTP closed after {plain:?}"
    );

    // Many stalled handshakes at once do not keep a reader waiting.
    let stalled: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&half_hello).unwrap();
            s
        })
        .collect();
    let start = Instant::now();
    let seen = visit(addr, &ca, &[b"http/1.1"], "/rss.xml");
    assert_eq!(seen.response.unwrap().status, 200);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "a reader waited {:?} behind 200 stalled handshakes",
        start.elapsed()
    );
    drop(stalled);
    assert!(Path::new(&workspace.path("cert.pem")).exists());
}

/// A ClientHello as a client that speaks at most `version` sent it (SSL 3.0 is `[3, 0]`,
/// TLS 1.0 `[3, 1]`, TLS 1.1 `[3, 2]`, TLS 1.2 `[3, 3]`): that version in the record and the
/// hello, ECDHE suites with AES-GCM (which the server has) and AES-CBC, and the extensions
/// such clients send (groups, point formats, signature algorithms), but no
/// `supported_versions`, which only TLS 1.3 clients send. Only the version differs, so only
/// the version can be refused.
fn old_client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut hello = version.to_vec();
    hello.extend_from_slice(&[0x5a; 32]); // random
    hello.push(0); // no session id
    let suites: [u16; 6] = [0xc02b, 0xc02f, 0xc009, 0xc013, 0x002f, 0x0035];
    hello.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for suite in suites {
        hello.extend_from_slice(&suite.to_be_bytes());
    }
    hello.extend_from_slice(&[1, 0]); // compression: null only
    let extensions: [(u16, &[u8]); 3] = [
        // supported_groups: x25519, secp256r1
        (0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17]),
        // ec_point_formats: uncompressed
        (0x000b, &[1, 0]),
        // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
        (0x000d, &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]),
    ];
    let mut block = Vec::new();
    for (kind, data) in extensions {
        block.extend_from_slice(&kind.to_be_bytes());
        block.extend_from_slice(&(data.len() as u16).to_be_bytes());
        block.extend_from_slice(data);
    }
    hello.extend_from_slice(&(block.len() as u16).to_be_bytes());
    hello.extend(block);
    let mut handshake = vec![1, 0]; // ClientHello, 24-bit length
    handshake.extend_from_slice(&(hello.len() as u16).to_be_bytes());
    handshake.extend(hello);
    let mut record = vec![0x16, version[0], version[1]];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// Every byte the server sends after `bytes`, until it closes (at most 5 s).
fn answer_to(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(bytes).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// SSL 3.0, TLS 1.0 and TLS 1.1 are refused with a fatal alert and no ServerHello; a client that speaks only TLS 1.2, or only TLS 1.3, is served.
#[test]
fn only_tls_1_2_and_1_3_are_spoken() {
    let ca = Ca::new();
    let identity = ca.issue("server");
    let workspace = tls_site(&identity, "");
    let server = start(&workspace);
    let addr = server.addr();
    // The same hello at TLS 1.2 gets a ServerHello: record type 22, handshake type 2.
    let modern = answer_to(addr, &old_client_hello([3, 3]));
    assert!(
        modern.len() > 5 && modern[0] == 22 && modern[5] == 2,
        "TLS 1.2: no ServerHello: {:?}",
        &modern[..modern.len().min(16)]
    );
    for (name, version) in [
        ("SSL 3.0", [3, 0]),
        ("TLS 1.0", [3, 1]),
        ("TLS 1.1", [3, 2]),
    ] {
        let answer = answer_to(addr, &old_client_hello(version));
        // One record: type 21 (alert), a version, length 2, level 2 (fatal), description.
        assert!(
            answer.len() == 7 && answer[0] == 21 && answer[3..6] == [0, 2, 2],
            "{name}: not one fatal alert: {answer:?}"
        );
        // rustls says handshake_failure (40); protocol_version (70) would do as well.
        assert!(
            matches!(answer[6], 40 | 70),
            "{name}: not a refusal: {answer:?}"
        );
    }
    for (version, expected) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let config = client_config_for(&ca, &[b"http/1.1"], &[version]);
        let seen = visit_with(addr, config, "/rss.xml");
        assert_eq!(seen.version, Some(expected));
        assert_eq!(seen.response.unwrap().status, 200, "{expected:?}");
    }
}

/// 1,000 connections that send half a ClientHello and stall do not slow a reader down:
/// each of five readers has its feed over a new TLS connection in under 100 ms.
#[test]
fn a_thousand_stalled_handshakes_leave_readers_served_in_under_100_ms() {
    let ca = Ca::new();
    let identity = ca.issue("server");
    let workspace = tls_site(&identity, "");
    let server = start(&workspace);
    let addr = server.addr();
    let half_hello = &old_client_hello([3, 3])[..20];
    let stalled: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(half_hello).unwrap();
            s
        })
        .collect();
    // The server has taken them all when the last one's bytes are read: let it catch up.
    std::thread::sleep(Duration::from_millis(500));
    let config = client_config(&ca, &[b"http/1.1"]);
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let seen = visit_with(addr, Arc::clone(&config), "/rss.xml");
            assert_eq!(seen.response.unwrap().status, 200);
            start.elapsed()
        })
        .collect();
    times.sort();
    assert!(
        times[4] < Duration::from_millis(100),
        "readers behind 1,000 stalled handshakes took {times:?}"
    );
    drop(stalled);
}
