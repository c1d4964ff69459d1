//! `check --config`: a whole configuration and the files it names, with positions.

use guard_gateway::cli::check_config;

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const BASE: &str = r#"
[[listeners]]
protocol = "postgres"
address = "127.0.0.1:6432"

[[resources]]
name = "app"
protocol = "postgres"
host = "127.0.0.1"
database = "app"
user = "guard"
password = { file = "pw" }

[policy]
file = "policy.toml"

[masking.profiles]
pii = "pii.toml"
"#;

#[test]
fn a_valid_configuration_passes() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "gateway.toml", BASE);
    write(d.path(), "pw", "secret\n");
    write(d.path(), "policy.toml", "default = \"allow\"\n");
    write(d.path(), "pii.toml", "detectors = [\"email\"]\n");
    let s = check_config(&d.path().join("gateway.toml")).expect("valid");
    assert!(s.contains("ok (1 listener(s), 1 resource(s)"), "{s}");
    assert!(!s.contains("weakened"), "{s}");
}

#[test]
fn settings_that_weaken_the_guard_are_named() {
    let d = tempfile::tempdir().unwrap();
    let cfg =
        BASE.replace(
            "address = \"127.0.0.1:6432\"",
            "address = \"127.0.0.1:6432\"\ndangerous_allow_plaintext_auth = true",
        )
        .replace(
            "file = \"policy.toml\"",
            "file = \"policy.toml\"\naudit_only = true\ndangerous_allow_opaque_groups = [\"dba\"]",
        ) + "[recording]\ndir = \"rec\"\nstrict = false\n";
    write(d.path(), "gateway.toml", &cfg);
    write(d.path(), "pw", "secret\n");
    write(d.path(), "policy.toml", "default = \"allow\"\n");
    write(d.path(), "pii.toml", "detectors = [\"email\"]\n");
    let s = check_config(&d.path().join("gateway.toml")).expect("valid");
    for want in [
        "weakened: listener 127.0.0.1:6432: dangerous_allow_plaintext_auth",
        "weakened: policy: dangerous_allow_opaque_groups = [dba]",
        "weakened: policy: audit_only",
        "weakened: recording: strict = false",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
}

#[test]
fn errors_name_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "gateway.toml",
        &BASE.replace("host = \"127.0.0.1\"", "host = \"127.0.0.1\"\nport = \"x\""),
    );
    let e = check_config(&d.path().join("gateway.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("gateway.toml:10:"), "{e}");

    // A policy error carries the policy's own position.
    write(d.path(), "gateway.toml", BASE);
    write(d.path(), "pw", "secret\n");
    write(d.path(), "pii.toml", "detectors = [\"email\"]\n");
    write(
        d.path(),
        "policy.toml",
        "default = \"allow\"\n\n[[rule]]\nid = \"x\"\naction = \"deny\"\nfacts = { \"sql.nope\" = true }\n",
    );
    let e = check_config(&d.path().join("gateway.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("policy.toml:"), "{e}");
    assert!(e.contains("sql.nope"), "{e}");

    // A missing secret file and a bad mask profile are reported.
    write(d.path(), "policy.toml", "default = \"allow\"\n");
    std::fs::remove_file(d.path().join("pw")).unwrap();
    let e = format!(
        "{:#}",
        check_config(&d.path().join("gateway.toml")).unwrap_err()
    );
    assert!(e.contains("pw"), "{e}");
    write(d.path(), "pw", "secret\n");
    write(d.path(), "pii.toml", "detectors = [\"no_such_detector\"]\n");
    let e = format!(
        "{:#}",
        check_config(&d.path().join("gateway.toml")).unwrap_err()
    );
    assert!(e.contains("pii.toml"), "{e}");
}

#[test]
fn secrets_never_appear_in_errors_or_debug() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "gateway.toml", BASE);
    write(d.path(), "pw", "hunter2-upstream\n");
    write(d.path(), "policy.toml", "default = \"allow\"\n");
    write(d.path(), "pii.toml", "detectors = [\"email\"]\n");
    let c = guard_gateway::config::Config::load(&d.path().join("gateway.toml")).unwrap();
    let g = guard_gateway::build_gateway(c).unwrap();
    assert!(!format!("{:?}", g.config()).contains("hunter2"));
}

#[test]
fn a_socket_directory_host_is_valid_and_refuses_tls() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "pw", "secret\n");
    write(d.path(), "policy.toml", "default = \"allow\"\n");
    write(d.path(), "pii.toml", "detectors = [\"email\"]\n");
    let unix = BASE.replace("host = \"127.0.0.1\"", "host = \"/var/run/postgresql\"");
    write(d.path(), "gateway.toml", &unix);
    check_config(&d.path().join("gateway.toml")).expect("a socket directory is a valid host");
    write(
        d.path(),
        "gateway.toml",
        &unix.replace(
            "password = { file = \"pw\" }",
            "password = { file = \"pw\" }\ntls = \"dangerous-require-no-verify\"",
        ),
    );
    let e = check_config(&d.path().join("gateway.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("gateway.toml:13:"), "{e}");
    assert!(e.contains("Unix-socket directory"), "{e}");
}
