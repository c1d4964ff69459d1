//! `guard-gateway check` through the real binary: exit status 0 for valid documents, 2 with
//! FILE:LINE:COLUMN for refused ones (scripts depend on both, see CONTRACTS.md).

use std::path::Path;
use std::process::Command;

fn gateway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_guard-gateway"))
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn check_policy_accepts_the_sample_policy() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("policy.toml");
    let out = gateway()
        .arg("check")
        .arg("--policy")
        .arg(&sample)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));
}

#[test]
fn check_policy_refuses_with_position_and_status_2() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "p.toml",
        "default = \"allow\"\n\n[[rule]]\nid = \"x\"\naction = \"deny\"\nfacts = { \"sql.nope\" = true }\n",
    );
    let out = gateway()
        .arg("check")
        .arg("--policy")
        .arg(d.path().join("p.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("p.toml:6:"), "{err}");
    assert!(err.contains("sql.nope"), "{err}");
}

#[test]
fn check_config_validates_the_whole_configuration() {
    let d = tempfile::tempdir().unwrap();
    let config = r#"
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
"#;
    write(d.path(), "gateway.toml", config);
    write(d.path(), "pw", "secret\n");
    write(d.path(), "policy.toml", "default = \"allow\"\n");
    let out = gateway()
        .arg("check")
        .arg("--config")
        .arg(d.path().join("gateway.toml"))
        .output();
    let out = out.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 resource(s)"));

    // An unknown key is refused with its position; the secret never appears.
    write(
        d.path(),
        "gateway.toml",
        &config.replace("user = \"guard\"", "user = \"guard\"\nusr = 1"),
    );
    let out = gateway()
        .arg("check")
        .arg("--config")
        .arg(d.path().join("gateway.toml"))
        .output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gateway.toml:12:"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

#[test]
fn check_without_a_document_is_a_usage_error() {
    let out = gateway().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--policy FILE or --config FILE"));
}
