//! Dedicated servers stop, crash and come back with their data; every
//! server cleans up its processes and directory when dropped or when its
//! owning process is SIGKILLed.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sluice_testkit::PgServer;

use crate::processes::{is_running, postmaster_pid};

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

async fn rows_in_kept(server: &PgServer) -> i64 {
    let client = server.connect("postgres").await;
    client.query_one("SELECT count(*) FROM kept", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn killed_server_recovers_its_committed_data_on_the_same_port() {
    let server = PgServer::start();
    let port = server.port();
    let pid = postmaster_pid(server.data_dir());
    let session = server.connect("postgres").await;
    session.batch_execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2)").await.unwrap();

    server.kill();
    assert!(!is_running(pid));
    assert!(session.simple_query("SELECT 1").await.is_err(), "the session died with the server");

    server.start_again();
    assert_eq!(server.port(), port);
    assert_eq!(rows_in_kept(&server).await, 2);
    assert!(
        server.log_tail(200).contains("database system was interrupted"),
        "the restart ran crash recovery:\n{}",
        server.log_tail(20)
    );
}

#[test]
fn stopped_server_starts_again_with_its_data() {
    let server = PgServer::start();
    run(async {
        let client = server.connect("postgres").await;
        client.batch_execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)").await.unwrap();
    });
    server.stop();
    server.stop(); // stopping a stopped server does nothing
    server.start_again();
    assert_eq!(run(rows_in_kept(&server)), 1);
}

#[test]
#[should_panic(expected = "shared server")]
fn shared_server_refuses_to_be_killed() {
    PgServer::shared().kill();
}

#[test]
fn dropping_a_server_stops_it_and_deletes_its_directory() {
    let server = PgServer::start();
    let root = server.data_dir().parent().unwrap().to_path_buf();
    let pid = postmaster_pid(server.data_dir());
    assert!(root.is_dir() && is_running(pid));

    drop(server);

    assert!(!root.exists(), "{} still exists", root.display());
    assert!(!is_running(pid), "postmaster {pid} still runs");
}

const HOLD_ENV: &str = "SLUICE_TESTKIT_HOLD_SERVER";

/// Not a test on its own: the owner process for the watchdog test. It starts
/// a server, says where it is, and waits to be killed.
#[test]
#[ignore = "helper process of watchdog_cleans_up_after_a_sigkilled_owner"]
fn hold_a_server_until_killed() {
    if std::env::var_os(HOLD_ENV).is_none() {
        return;
    }
    let server = PgServer::start();
    println!("HOLDING {} {}", postmaster_pid(server.data_dir()), server.data_dir().display());
    loop {
        std::thread::park();
    }
}

#[test]
fn watchdog_cleans_up_after_a_sigkilled_owner() {
    let mut owner = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lifecycle::hold_a_server_until_killed", "--ignored", "--nocapture"])
        .env(HOLD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(owner.stdout.take().unwrap());
    let held = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("HOLDING ").map(str::to_owned))
        .expect("the owner process reports its server");
    let (pid, data_dir) = held.split_once(' ').unwrap();
    let pid: u32 = pid.parse().unwrap();
    let root = PathBuf::from(data_dir).parent().unwrap().to_path_buf();
    assert!(is_running(pid) && root.is_dir());

    owner.kill().unwrap(); // SIGKILL: no destructor runs
    owner.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    while is_running(pid) || root.exists() {
        assert!(
            Instant::now() < deadline,
            "30 s after its owner died, postmaster running: {}, {} exists: {}",
            is_running(pid),
            root.display(),
            root.exists()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
