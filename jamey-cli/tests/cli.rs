//! The `jamey` binary, run as a user runs it, against a temporary JAMEY_HOME.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::thread;

use jamey_core::home::CONFIG_TEMPLATE;
use jamey_core::pki::cert_fingerprint;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use serde_json::Value;
use tempfile::TempDir;

const TLS_FILES: [&str; 6] = [
    "ca.pem",
    "ca-key.pem",
    "server.pem",
    "server-key.pem",
    "client.pem",
    "client-key.pem",
];

/// A JAMEY_HOME that does not exist yet, inside a temporary directory.
fn new_home() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("jamey-home");
    (dir, home)
}

fn jamey(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jamey"))
        .args(args)
        .env("JAMEY_HOME", home)
        .output()
        .unwrap()
}

/// Asserts success and returns stdout.
fn succeeds(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Asserts a non-zero exit with exactly one line on stderr, and returns that line.
fn fails(output: Output) -> String {
    assert!(!output.status.success(), "unexpected success: {output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr:?}");
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    stderr.trim_end().to_owned()
}

fn json(output: Output) -> Value {
    serde_json::from_str(&succeeds(output)).unwrap()
}

fn init(home: &Path) {
    succeeds(jamey(home, &["init"]));
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn tls(home: &Path, file: &str) -> PathBuf {
    home.join("tls").join(file)
}

fn credentials(home: &Path) -> Value {
    serde_json::from_slice(&fs::read(home.join("credentials.json")).unwrap()).unwrap()
}

fn fingerprint_of(pem_path: &Path) -> String {
    cert_fingerprint(&CertificateDer::from_pem_file(pem_path).unwrap())
}

/// Every file under `root` with its bytes and mode.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.insert(path.clone(), (fs::read(&path).unwrap(), mode(&path)));
            }
        }
    }
    files
}

#[test]
fn init_creates_the_home_config_certificates_and_owner_only_keys() {
    let (_dir, home) = new_home();
    let stdout = succeeds(jamey(&home, &["init"]));

    assert!(stdout.contains(&home.display().to_string()), "{stdout}");
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("tls")), 0o700);
    assert_eq!(
        fs::read_to_string(home.join("config.toml")).unwrap(),
        CONFIG_TEMPLATE
    );
    for file in TLS_FILES {
        let path = tls(&home, file);
        let text = fs::read_to_string(&path).unwrap();
        if file.ends_with("-key.pem") {
            assert_eq!(mode(&path), 0o600, "{file}");
            assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"), "{file}");
        } else {
            assert_eq!(mode(&path), 0o644, "{file}");
            assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{file}");
        }
    }

    assert_eq!(mode(&home.join("credentials.json")), 0o600);
    let certs = credentials(&home)["certs"].clone();
    assert_eq!(certs.as_array().unwrap().len(), 1);
    assert_eq!(certs[0]["name"], "owner");
    assert_eq!(
        certs[0]["fingerprint_sha256"],
        fingerprint_of(&tls(&home, "client.pem"))
    );
    assert!(certs[0].get("revoked_at").is_none());
}

#[test]
fn init_refuses_an_initialised_home_and_changes_nothing() {
    let (_dir, home) = new_home();
    init(&home);
    let before = snapshot(&home);

    let err = fails(jamey(&home, &["init"]));
    assert_eq!(
        err,
        format!(
            "error: already initialised at {}: use --force to overwrite",
            home.display()
        )
    );
    assert_eq!(snapshot(&home), before);

    // Either marker is enough: a home with only config.toml is not overwritten either.
    let (_dir, partial) = new_home();
    fs::create_dir_all(&partial).unwrap();
    fs::write(partial.join("config.toml"), "listen = \"127.0.0.1:4000\"\n").unwrap();
    let err = fails(jamey(&partial, &["init", "--json"]));
    assert!(err.contains("already initialised"), "{err}");
    assert_eq!(
        fs::read_to_string(partial.join("config.toml")).unwrap(),
        "listen = \"127.0.0.1:4000\"\n"
    );
    assert!(!partial.join("tls").exists());
}

#[test]
fn init_force_regenerates_certificates_and_keeps_tokens() {
    let (_dir, home) = new_home();
    init(&home);
    succeeds(jamey(&home, &["cert", "issue", "laptop"]));
    let token = succeeds(jamey(&home, &["token", "create", "ci"]));
    fs::write(home.join("config.toml"), "# edited\n").unwrap();
    let before = snapshot(&home);

    let report = json(jamey(&home, &["init", "--force", "--json"]));
    assert_eq!(report["revoked_certs"], 2);

    let after = snapshot(&home);
    for file in TLS_FILES {
        let path = tls(&home, file);
        assert_ne!(
            before[&path].0, after[&path].0,
            "{file} was not regenerated"
        );
    }
    assert_eq!(
        fs::read_to_string(home.join("config.toml")).unwrap(),
        CONFIG_TEMPLATE
    );

    let credentials = credentials(&home);
    let certs = credentials["certs"].as_array().unwrap();
    let active: Vec<&Value> = certs
        .iter()
        .filter(|c| c.get("revoked_at").is_none())
        .collect();
    assert_eq!(certs.len(), 3);
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["name"], "owner");
    assert_eq!(
        active[0]["fingerprint_sha256"],
        fingerprint_of(&tls(&home, "client.pem"))
    );
    let tokens = credentials["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].get("revoked_at").is_none());
    assert!(!credentials.to_string().contains(token.trim()));

    // The name of a certificate of the old CA is free again.
    succeeds(jamey(&home, &["cert", "issue", "laptop"]));
}

#[test]
fn init_json_lists_the_paths_it_created_and_home_flag_overrides_the_environment() {
    let (_dir, home) = new_home();
    let (_other_dir, other) = new_home();
    let output = Command::new(env!("CARGO_BIN_EXE_jamey"))
        .args(["--json", "init", "--home"])
        .arg(&home)
        .env("JAMEY_HOME", &other)
        .output()
        .unwrap();
    let report = json(output);

    assert!(!other.exists());
    assert_eq!(report["home"], home.display().to_string());
    assert_eq!(
        report["client_fingerprint_sha256"],
        fingerprint_of(&tls(&home, "client.pem"))
    );
    for key in [
        "config",
        "credentials",
        "ca_cert",
        "ca_key",
        "server_cert",
        "server_key",
        "client_cert",
        "client_key",
    ] {
        let path = report[key].as_str().unwrap();
        assert!(Path::new(path).is_file(), "{key}: {path}");
        assert!(
            path.starts_with(&home.display().to_string()),
            "{key}: {path}"
        );
    }
}

#[test]
fn token_create_prints_the_token_once_and_stores_only_its_hash() {
    let (_dir, home) = new_home();
    init(&home);
    let output = jamey(&home, &["token", "create", "ci-bot"]);
    let note = String::from_utf8(output.stderr.clone()).unwrap();
    let token = succeeds(output);
    let token = token.trim();
    assert!(token.starts_with("jmy_") && token.len() > 40, "{token}");
    assert!(note.contains("cannot be shown again"), "{note}");

    let stored = fs::read_to_string(home.join("credentials.json")).unwrap();
    assert!(!stored.contains(token));
    let tokens = credentials(&home)["tokens"].clone();
    assert_eq!(tokens[0]["name"], "ci-bot");
    assert_eq!(tokens[0]["sha256"].as_str().unwrap().len(), 64);

    let err = fails(jamey(&home, &["token", "create", "ci-bot"]));
    assert!(
        err.contains("\"ci-bot\"") && err.contains("already exists"),
        "{err}"
    );

    let created = json(jamey(&home, &["token", "create", "other", "--json"]));
    assert_eq!(created["name"], "other");
    assert!(created["token"].as_str().unwrap().starts_with("jmy_"));
    assert_ne!(created["token"], token);
}

#[test]
fn token_revoke_marks_the_token_revoked_and_frees_the_name() {
    let (_dir, home) = new_home();
    init(&home);
    succeeds(jamey(&home, &["token", "create", "ci"]));

    let revoked = json(jamey(&home, &["--json", "token", "revoke", "ci"]));
    assert_eq!(revoked["name"], "ci");
    assert!(revoked["revoked_at"].is_string());
    assert!(credentials(&home)["tokens"][0]["revoked_at"].is_string());

    let err = fails(jamey(&home, &["token", "revoke", "ci"]));
    assert_eq!(err, "error: no active token named \"ci\"");
    succeeds(jamey(&home, &["token", "create", "ci"]));
}

#[test]
fn cert_issue_writes_the_pair_records_it_and_refuses_an_active_name() {
    let (_dir, home) = new_home();
    init(&home);
    let issued = json(jamey(&home, &["cert", "issue", "laptop", "--json"]));

    let cert = tls(&home, "clients/laptop.pem");
    let key = tls(&home, "clients/laptop-key.pem");
    assert_eq!(issued["cert"], cert.display().to_string());
    assert_eq!(issued["key"], key.display().to_string());
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&tls(&home, "clients")), 0o700);
    assert_eq!(issued["fingerprint_sha256"], fingerprint_of(&cert));
    let record = credentials(&home)["certs"][1].clone();
    assert_eq!(record["name"], "laptop");
    assert_eq!(record["fingerprint_sha256"], issued["fingerprint_sha256"]);
    assert_eq!(record["serial_hex"], issued["serial_hex"]);

    let before = snapshot(&home);
    let err = fails(jamey(&home, &["cert", "issue", "laptop"]));
    assert!(
        err.contains("\"laptop\"") && err.contains("already exists"),
        "{err}"
    );
    let err = fails(jamey(&home, &["cert", "issue", "laptop-key"]));
    assert!(err.contains("choose another name"), "{err}");
    assert_eq!(snapshot(&home), before);
}

#[test]
fn cert_revoke_marks_the_certificate_revoked_and_allows_reissue() {
    let (_dir, home) = new_home();
    init(&home);
    succeeds(jamey(&home, &["cert", "issue", "laptop"]));
    let fingerprint = fingerprint_of(&tls(&home, "clients/laptop.pem"));

    let stdout = succeeds(jamey(&home, &["cert", "revoke", "laptop"]));
    assert!(stdout.contains(&fingerprint), "{stdout}");
    let record = credentials(&home)["certs"][1].clone();
    assert_eq!(record["fingerprint_sha256"], fingerprint);
    assert!(record["revoked_at"].is_string());

    let err = fails(jamey(&home, &["cert", "revoke", "laptop"]));
    assert_eq!(err, "error: no active client certificate named \"laptop\"");
    succeeds(jamey(&home, &["cert", "issue", "laptop"]));
    assert_ne!(
        fingerprint_of(&tls(&home, "clients/laptop.pem")),
        fingerprint
    );
}

#[test]
fn commands_on_an_uninitialised_home_fail_and_create_nothing() {
    let (_dir, home) = new_home();
    for args in [
        ["cert", "issue", "laptop"],
        ["cert", "revoke", "laptop"],
        ["token", "create", "ci"],
        ["token", "revoke", "ci"],
    ] {
        let err = fails(jamey(&home, &args));
        assert_eq!(
            err,
            format!(
                "error: not initialised at {}: run `jamey init`",
                home.display()
            ),
            "{args:?}"
        );
    }
    assert!(!home.exists());
}

#[test]
fn invalid_names_are_refused_in_one_line() {
    let (_dir, home) = new_home();
    init(&home);
    let before = snapshot(&home);
    for args in [
        ["token", "create", "a b"],
        ["token", "create", "../etc"],
        ["cert", "issue", "a/b"],
        ["cert", "issue", ""],
    ] {
        let err = fails(jamey(&home, &args));
        assert!(err.starts_with("error: invalid name"), "{args:?}: {err}");
    }
    assert_eq!(snapshot(&home), before);
}

#[test]
fn usage_errors_are_one_line() {
    let (_dir, home) = new_home();
    for args in [&["frobnicate"][..], &["cert"], &["token", "create"], &[]] {
        let output = jamey(&home, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = fails(output);
        assert!(err.contains("jamey --help"), "{args:?}: {err}");
    }
}

/// Serves `connections` HTTPS connections on 127.0.0.1 with the home's server certificate,
/// requiring a client certificate signed by its CA, and answers each request with "ok".
fn serve_mtls(home: &Path, connections: usize) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(tls(home, "ca.pem")).unwrap())
        .unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let chain = CertificateDer::pem_file_iter(tls(home, "server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls(home, "server-key.pem")).unwrap();
    let config = Arc::new(
        ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for tcp in listener.incoming().take(connections) {
            let connection = ServerConnection::new(config.clone()).unwrap();
            let mut stream = StreamOwned::new(connection, tcp.unwrap());
            // A client without a valid certificate fails the handshake: nothing to answer.
            let _ = answer_ok(&mut stream);
        }
    });
    port
}

fn answer_ok(stream: &mut StreamOwned<ServerConnection, TcpStream>) -> io::Result<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..read]);
    }
    stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n")?;
    stream.conn.send_close_notify();
    stream.flush()
}

fn curl(args: &[String]) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl must be installed: the test checks that curl accepts the files as written")
}

#[test]
fn curl_accepts_the_certificates_and_keys_as_written() {
    let (_dir, home) = new_home();
    init(&home);
    succeeds(jamey(&home, &["cert", "issue", "laptop"]));
    let port = serve_mtls(&home, 4);
    let path = |file: &str| tls(&home, file).display().to_string();
    let with_cert = |cert: &str, key: &str, url: &str| {
        let mut args = vec![
            "--cacert".to_owned(),
            path("ca.pem"),
            "--cert".to_owned(),
            path(cert),
            "--key".to_owned(),
            path(key),
            "--resolve".to_owned(),
            format!("localhost:{port}:127.0.0.1"),
        ];
        args.push(url.to_owned());
        curl(&args)
    };

    let by_address = format!("https://127.0.0.1:{port}/");
    let by_name = format!("https://localhost:{port}/");
    assert_eq!(
        succeeds(with_cert("client.pem", "client-key.pem", &by_address)),
        "ok\n"
    );
    assert_eq!(
        succeeds(with_cert("client.pem", "client-key.pem", &by_name)),
        "ok\n"
    );
    assert_eq!(
        succeeds(with_cert(
            "clients/laptop.pem",
            "clients/laptop-key.pem",
            &by_address
        )),
        "ok\n"
    );

    let without_client_cert = curl(&["--cacert".to_owned(), path("ca.pem"), by_address]);
    assert!(
        !without_client_cert.status.success(),
        "{without_client_cert:?}"
    );
}

/// `jamey` with `input` on stdin and none of the variables the runtime reads but `extra`.
fn jamey_with_input(home: &Path, args: &[&str], input: &str, extra: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jamey"));
    for variable in jamey_protocol::settings::SETTING_VARIABLES {
        command.env_remove(variable.name);
    }
    let mut child = command
        .args(args)
        .env("JAMEY_HOME", home)
        .envs(extra.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments exits before reading stdin: the pipe is then closed.
    let written = child.stdin.take().unwrap().write_all(input.as_bytes());
    if let Err(error) = written {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    }
    child.wait_with_output().unwrap()
}

/// A secret name no other test or runtime uses: the OS keychain is shared by every home.
fn unique_secret_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("test-{}-{nanos}", std::process::id())
}

#[test]
fn secret_set_list_rm_never_show_the_value() {
    let (_dir, home) = new_home();
    init(&home);
    let name = unique_secret_name();
    let value = "s3cret-value-never-shown";

    let stored: Value = serde_json::from_str(&succeeds(jamey_with_input(
        &home,
        &["secret", "set", &name, "--json"],
        &format!("{value}\n"),
        &[],
    )))
    .unwrap();
    assert_eq!(stored["name"], name.as_str());
    let backend = stored["backend"].as_str().unwrap().to_owned();
    assert!(
        ["keychain", "encrypted-file"].contains(&backend.as_str()),
        "{stored}"
    );
    assert_eq!(stored["restart_needed"], false, "no runtime runs");
    if backend == "encrypted-file" {
        let file = fs::read(home.join("secrets.enc")).unwrap();
        assert!(!String::from_utf8_lossy(&file).contains(value));
        assert_eq!(mode(&home.join("secrets.enc")), 0o600);
    }

    // Listed with its backend, beside a secret the environment provides; no value anywhere.
    let output = jamey_with_input(
        &home,
        &["secret", "list", "--json"],
        "",
        &[("OPENROUTER_API_KEY", "sk-or-env-never-shown")],
    );
    let listed: Value = serde_json::from_str(&succeeds(output.clone())).unwrap();
    let text = format!("{listed}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        !text.contains(value) && !text.contains("sk-or-env"),
        "{text}"
    );
    let find = |listed: &Value, wanted: &str| {
        listed["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == wanted)
            .cloned()
    };
    let mine = find(&listed, &name).unwrap();
    assert_eq!(mine["backend"], backend.as_str(), "{listed}");
    let env = find(&listed, "openrouter_api_key").unwrap();
    assert_eq!(env["backend"], "environment", "{listed}");
    let table = succeeds(jamey_with_input(&home, &["secret", "list"], "", &[]));
    assert!(
        table.starts_with("NAME") && table.contains(&name) && !table.contains(value),
        "{table}"
    );

    // Replaced, then removed; removing again is an error.
    succeeds(jamey_with_input(
        &home,
        &["secret", "set", &name],
        "second-value\r\n",
        &[],
    ));
    let text = succeeds(jamey_with_input(&home, &["secret", "rm", &name], "", &[]));
    assert_eq!(text, format!("Removed {name}\n"));
    let listed: Value = serde_json::from_str(&succeeds(jamey_with_input(
        &home,
        &["secret", "list", "--json"],
        "",
        &[],
    )))
    .unwrap();
    assert!(find(&listed, &name).is_none(), "{listed}");
    let err = fails(jamey_with_input(&home, &["secret", "rm", &name], "", &[]));
    assert!(err.contains("no secret") && err.contains(&name), "{err}");
}

#[test]
fn secret_set_refuses_an_empty_value_and_a_bad_name() {
    let (_dir, home) = new_home();
    init(&home);
    let name = unique_secret_name();
    let err = fails(jamey_with_input(
        &home,
        &["secret", "set", &name],
        "\n",
        &[],
    ));
    assert!(err.contains("no value given"), "{err}");
    let err = fails(jamey_with_input(
        &home,
        &["secret", "set", "Bad Name"],
        "v",
        &[],
    ));
    assert!(err.contains("invalid secret name"), "{err}");
    let (_dir, fresh) = new_home();
    let err = fails(jamey_with_input(&fresh, &["secret", "list"], "", &[]));
    assert!(err.contains("jamey init"), "{err}");
}

#[test]
fn token_and_cert_record_the_tools_they_may_use() {
    let (_dir, home) = new_home();
    init(&home);
    let created = json(jamey(
        &home,
        &[
            "token",
            "create",
            "ci",
            "--tools",
            "memory_search,process_kill",
            "--json",
        ],
    ));
    assert_eq!(
        created["tools"],
        serde_json::json!(["memory_search", "process_kill"])
    );
    let output = jamey(&home, &["token", "create", "plain"]);
    let note = String::from_utf8_lossy(&output.stderr).into_owned();
    succeeds(output);
    assert!(
        note.contains("for the tools whose permission is allow"),
        "{note}"
    );
    let tokens = credentials(&home)["tokens"].clone();
    assert_eq!(tokens[0]["tools"][1], "process_kill");
    assert!(tokens[1].get("tools").is_none(), "{tokens}");

    let listed = succeeds(jamey(&home, &["token", "list"]));
    let rows: Vec<Vec<&str>> = listed
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "CREATED", "STATE", "TOOLS"]);
    assert_eq!(rows[1][0], "ci");
    assert_eq!(rows[1][3..], ["active", "memory_search,process_kill"]);
    assert_eq!(rows[2][3..], ["active", "(allow-only)"]);
    let listed = json(jamey(&home, &["token", "list", "--json"]));
    assert_eq!(listed["tokens"][0]["name"], "ci");
    assert!(listed["tokens"][0].get("sha256").is_some());

    let issued = succeeds(jamey(
        &home,
        &["cert", "issue", "laptop", "--tools", "system_info"],
    ));
    assert!(
        issued.contains("may use      the tools system_info"),
        "{issued}"
    );
    assert_eq!(
        credentials(&home)["certs"][1]["tools"],
        serde_json::json!(["system_info"])
    );

    // A bad tool name is named, and nothing is created or written.
    let before = fs::read_to_string(home.join("credentials.json")).unwrap();
    let err = fails(jamey(
        &home,
        &["token", "create", "bad", "--tools", "memory_search,no.dots"],
    ));
    assert!(err.contains("invalid tool name \"no.dots\""), "{err}");
    let err = fails(jamey(&home, &["cert", "issue", "desk", "--tools", "a b"]));
    assert!(err.contains("invalid tool name \"a b\""), "{err}");
    assert_eq!(
        fs::read_to_string(home.join("credentials.json")).unwrap(),
        before
    );
    assert!(!tls(&home, "clients/desk.pem").exists());
}
