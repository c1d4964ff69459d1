//! The object-store sink against a real S3-compatible server (moto's server mode, started by
//! the test on loopback) and against the local filesystem store.
#![cfg(feature = "object-store")]

mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use guard_record::*;
use object_store::aws::AmazonS3Builder;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};

/// A moto S3 server on 127.0.0.1; killed on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run moto_server ({e}); install it with: pip install 'moto[server]'")
            });
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "moto_server exited with {status}; install it with: pip install 'moto[server]'"
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto.create_bucket("recordings");
        moto
    }

    /// `PUT /bucket` (moto accepts unsigned requests).
    fn create_bucket(&mut self, bucket: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", self.port).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(
            resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
            "{resp}"
        );
    }

    fn store(&self) -> Arc<dyn ObjectStore> {
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(200),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: Duration::from_secs(5),
        };
        Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(format!("http://127.0.0.1:{}", self.port))
                .with_allow_http(true)
                .with_bucket_name("recordings")
                .with_region("us-east-1")
                .with_access_key_id("testing")
                .with_secret_access_key("testing")
                .with_retry(retry)
                .build()
                .unwrap(),
        )
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// 64 KiB of terminal output per event.
fn chunk(i: u64) -> Event {
    Event::Output(Output::ChannelData {
        channel: 0,
        stderr: false,
        data: Bytes(vec![b'a' + (i % 26) as u8; 64 << 10]),
    })
}

const PART: usize = 5 << 20;

fn sink_config(fail_fast: bool) -> ObjectStoreConfig {
    let mut c = ObjectStoreConfig::new();
    c.part_bytes(PART).fail_fast(fail_fast).prefix("rec/");
    c
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn full_session(store: Arc<dyn ObjectStore>) {
    let spool = tempfile::tempdir().unwrap();
    let st = start("obj-ok", Protocol::Ssh);
    let (sink, upload) = ObjectStoreSink::create(
        store.clone(),
        spool.path(),
        "obj-ok",
        st.started_at,
        &sink_config(true),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    assert_eq!(sink.key(), "rec/2025/11/26/obj-ok.jsonl");
    let spool_path = sink.spool_path().to_path_buf();
    let mut config = RecorderConfig::new();
    config.signing_key(Some(test_key()));
    let mut rec = SessionRecorder::start(sink, &config, st).unwrap();
    for i in 0..160 {
        rec.record(i * 1000, &chunk(i)).unwrap(); // ~14 MiB: three parts
    }
    rec.finish(200_000).unwrap();
    drop(rec);
    let bytes = upload.wait().await.unwrap();
    assert!(bytes > (10 << 20), "{bytes}");
    assert!(
        !spool_path.exists(),
        "spool removed after a completed upload"
    );
    let got = store
        .get(&"rec/2025/11/26/obj-ok.jsonl".into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.len() as u64, bytes);
    let s = verify(&got[..], Some(&test_key().verifying_key())).unwrap();
    assert_eq!(s.events, 161);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_upload_completes_and_verifies() {
    let moto = Moto::start();
    full_session(moto.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_filesystem_store_upload_completes_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    full_session(Arc::new(
        object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap(),
    ))
    .await;
}

/// Records until one part is confirmed uploaded, then kills the store.
async fn record_then_kill(
    moto: &mut Moto,
    rec: &mut SessionRecorder<ObjectStoreSink>,
    t: &mut u64,
) {
    for _ in 0..100 {
        rec.record(*t, &chunk(*t)).unwrap();
        *t += 1;
    }
    rec.flush().unwrap();
    // The task holds one part in flight at a time: once it has read well past the first
    // part, the first part was acknowledged by the server.
    wait_until("the first part to upload", || {
        matches!(rec.sink().status(), UploadStatus::Uploading { uploaded } if uploaded as usize > PART + (512 << 10))
    })
    .await;
    moto.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_going_away_mid_session_ends_a_strict_session() {
    let mut moto = Moto::start();
    let spool = tempfile::tempdir().unwrap();
    let st = start("obj-strict", Protocol::Ssh);
    let (sink, upload) = ObjectStoreSink::create(
        moto.store(),
        spool.path(),
        "obj-strict",
        st.started_at,
        &sink_config(true),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let spool_path = sink.spool_path().to_path_buf();
    let mut rec = SessionRecorder::start(sink, &RecorderConfig::new(), st).unwrap();
    let mut t = 0;
    record_then_kill(&mut moto, &mut rec, &mut t).await;
    // Keep the session going: the next part fails, and strict recording then refuses.
    let deadline = Instant::now() + Duration::from_secs(60);
    let err = loop {
        match rec.record(
            t,
            &Event::Input(Input::ChannelData {
                channel: 0,
                data: Bytes(vec![b'x'; 64 << 10]),
            }),
        ) {
            Ok(()) => {}
            Err(e) => break e,
        }
        t += 1;
        assert!(
            Instant::now() < deadline,
            "strict recording never noticed the store going away"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(
        matches!(
            err,
            RecordError::Sink {
                source: SinkError::Upload { .. }
            }
        ),
        "{err}"
    );
    assert!(rec.finish(t).is_err());
    drop(rec);
    let e = upload.wait().await.unwrap_err();
    assert!(e.to_string().contains("recording kept in"), "{e}");
    // What was accepted stays in the spool, and reads as truncated (never as complete).
    let v = verify(std::fs::File::open(&spool_path).unwrap(), None).unwrap_err();
    assert!(v.is_truncation(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_going_away_mid_session_is_reported_in_best_effort_mode() {
    let mut moto = Moto::start();
    let spool = tempfile::tempdir().unwrap();
    let st = start("obj-best", Protocol::Ssh);
    let (sink, upload) = ObjectStoreSink::create(
        moto.store(),
        spool.path(),
        "obj-best",
        st.started_at,
        &sink_config(false),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let spool_path = sink.spool_path().to_path_buf();
    let mut config = RecorderConfig::new();
    config.mode(Mode::BestEffort);
    let mut rec = SessionRecorder::start(sink, &config, st).unwrap();
    let mut t = 0;
    record_then_kill(&mut moto, &mut rec, &mut t).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(rec.sink().status(), UploadStatus::Failed { .. }) {
        rec.record(t, &chunk(t)).unwrap(); // the session goes on
        rec.flush().unwrap();
        t += 1;
        assert!(Instant::now() < deadline, "the upload never failed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..10 {
        rec.record(t, &chunk(t)).unwrap();
        t += 1;
    }
    rec.record(t, &Event::SessionEnd(SessionEnd::new("client closed")))
        .unwrap();
    // The failed upload is reported, not dropped: by finish and by the handle.
    let e = rec.finish(t + 1).unwrap_err();
    assert!(
        matches!(
            e,
            RecordError::Sink {
                source: SinkError::Upload { .. }
            }
        ),
        "{e}"
    );
    assert_eq!(rec.stats().dropped, 0);
    drop(rec);
    assert!(upload.wait().await.is_err());
    // The spool keeps the complete, sealed recording for a later upload.
    let s = verify(std::fs::File::open(&spool_path).unwrap(), None).unwrap();
    assert_eq!(s.events, t + 2); // session start, t chunks, session end
}
