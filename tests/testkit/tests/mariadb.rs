//! Private MariaDB servers: they write the binlog Sluice's source needs,
//! give each test its own database, survive crashes with their data, and
//! clean up their process and directory when dropped or when their owner is
//! SIGKILLed.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sluice_testkit::{MARIADB_PASSWORD, MARIADB_USER, MariaDbOptions, MariaDbServer};

// The MariaDB server writes its pid to `<data dir>/postmaster.pid` too (for the shared watchdog).
use crate::processes::{is_running, postmaster_pid};

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

async fn variable(conn: &mut Conn, name: &str) -> String {
    let value: Option<String> = conn
        .exec_first(
            "SELECT variable_value FROM information_schema.global_variables WHERE variable_name = UPPER(?)",
            (name,),
        )
        .await
        .unwrap();
    value.unwrap_or_else(|| panic!("no variable {name}"))
}

async fn database_exists(name: &str) -> bool {
    let mut conn = MariaDbServer::shared().connect("").await;
    let count: Option<i64> = conn
        .exec_first("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", (name,))
        .await
        .unwrap();
    count == Some(1)
}

#[tokio::test]
async fn shared_mariadb_writes_row_binlog_with_full_images_and_metadata() {
    let mut conn = MariaDbServer::shared().connect("").await;
    assert_eq!(variable(&mut conn, "log_bin").await, "ON");
    assert_eq!(variable(&mut conn, "binlog_format").await, "ROW");
    assert_eq!(variable(&mut conn, "binlog_row_image").await, "FULL");
    assert_eq!(variable(&mut conn, "binlog_row_metadata").await, "FULL");
    assert_eq!(variable(&mut conn, "log_bin_compress").await, "OFF");
    assert_eq!(variable(&mut conn, "server_id").await, "1");
    assert_eq!(variable(&mut conn, "time_zone").await, "+00:00");
    assert_eq!(variable(&mut conn, "character_set_server").await, "utf8mb4");
}

#[tokio::test]
async fn mariadb_url_is_a_working_root_connection_string() {
    let server = MariaDbServer::shared();
    assert_eq!(server.host(), "127.0.0.1");
    assert_eq!(server.url("db"), format!("mysql://root@127.0.0.1:{}/db", server.port()));
    assert_ne!(server.port(), 3306, "the system server's port is never used");
    let mut conn = Conn::from_url(server.url("")).await.unwrap();
    let user: Option<String> = conn.query_first("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)").await.unwrap();
    assert_eq!(user.as_deref(), Some("root"));
}

#[tokio::test]
async fn mariadb_password_account_may_read_the_binlog_and_needs_its_password() {
    let server = MariaDbServer::shared();
    let mut conn = Conn::from_url(server.url_as(MARIADB_USER, MARIADB_PASSWORD, "")).await.unwrap();
    let logs: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.unwrap();
    assert!(!logs.is_empty());
    let grants: Vec<String> = conn.query("SHOW GRANTS").await.unwrap();
    assert!(grants.iter().any(|g| g.contains("ALL PRIVILEGES ON *.*")), "grants: {grants:?}");

    let refused = Conn::from_url(server.url_as(MARIADB_USER, "wrong", "")).await.unwrap_err();
    assert!(matches!(refused, mysql_async::Error::Server(ref e) if e.code == 1045), "{refused}");
}

#[tokio::test]
async fn mariadb_databases_get_unique_names_and_are_usable() {
    let server = MariaDbServer::shared();
    let first = server.create_database("unique").await;
    let second = server.create_database("unique").await;
    assert_ne!(first.name, second.name);
    assert!(first.name.starts_with(&format!("unique_{}_", std::process::id())));
    assert_eq!(first.url(), server.url(&first.name));

    let mut conn = first.connect().await;
    let current: Option<String> = conn.query_first("SELECT DATABASE()").await.unwrap();
    assert_eq!(current.as_deref(), Some(first.name.as_str()));
}

#[tokio::test]
async fn dropping_a_mariadb_database_drops_it_even_with_an_open_transaction_on_it() {
    let server = MariaDbServer::shared();
    let database = server.create_database("dropped").await;
    let name = database.name.clone();
    let mut session = database.connect().await;
    session.query_drop("CREATE TABLE t (id int PRIMARY KEY)").await.unwrap();
    session.query_drop("START TRANSACTION").await.unwrap();
    session.query_drop("INSERT INTO t VALUES (1)").await.unwrap();

    drop(database);

    assert!(!database_exists(&name).await);
    assert!(session.query_drop("SELECT 1").await.is_err(), "the session holding a lock was ended");
}

#[tokio::test]
async fn killed_mariadb_recovers_its_committed_data_on_the_same_port() {
    let server = MariaDbServer::start();
    let port = server.port();
    let pid = postmaster_pid(server.data_dir());
    let mut session = server.connect("").await;
    session.query_drop("CREATE DATABASE kept").await.unwrap();
    session.query_drop("CREATE TABLE kept.t (id int PRIMARY KEY) ENGINE=InnoDB").await.unwrap();
    session.query_drop("INSERT INTO kept.t VALUES (1), (2)").await.unwrap();

    server.kill();
    assert!(!is_running(pid));
    assert!(session.query_drop("SELECT 1").await.is_err(), "the session died with the server");

    server.start_again();
    assert_eq!(server.port(), port);
    let mut conn = server.connect("kept").await;
    let rows: Option<i64> = conn.query_first("SELECT COUNT(*) FROM t").await.unwrap();
    assert_eq!(rows, Some(2));
}

#[test]
fn stopped_mariadb_starts_again_with_its_data_and_options() {
    let server = MariaDbServer::start_with(
        MariaDbOptions::new().time_zone("+08:00").setting("binlog_format", "STATEMENT").gtid(true),
    );
    run(async {
        let mut conn = server.connect("").await;
        conn.query_drop("CREATE DATABASE kept").await.unwrap();
        conn.query_drop("CREATE TABLE kept.t (id int PRIMARY KEY)").await.unwrap();
    });
    server.stop();
    server.stop(); // stopping a stopped server does nothing
    server.start_again();
    run(async {
        let mut conn = server.connect("kept").await;
        let tables: Vec<String> = conn.query("SHOW TABLES").await.unwrap();
        assert_eq!(tables, ["t"]);
        assert_eq!(variable(&mut conn, "time_zone").await, "+08:00");
        assert_eq!(variable(&mut conn, "binlog_format").await, "STATEMENT");
        assert_eq!(variable(&mut conn, "gtid_strict_mode").await, "ON");
    });
}

#[test]
fn a_tls_mariadb_serves_tls_verified_by_its_ca() {
    let server = MariaDbServer::start_with(MariaDbOptions::new().tls(true));
    let ca = server.ca_cert_path().expect("a TLS server has a CA").to_path_buf();
    assert!(MariaDbServer::shared().ca_cert_path().is_none());
    run(async {
        let ssl = mysql_async::SslOpts::default().with_root_certs(vec![ca.into()]).with_disable_built_in_roots(true);
        let opts = mysql_async::OptsBuilder::from_opts(mysql_async::Opts::from_url(&server.url("")).unwrap())
            .prefer_socket(false)
            .ssl_opts(ssl);
        let mut conn = Conn::new(opts).await.unwrap();
        let status: Option<(String, String)> =
            conn.query_first("SHOW SESSION STATUS LIKE 'Ssl_version'").await.unwrap();
        let version = status.unwrap().1;
        assert!(version.starts_with("TLSv1."), "Ssl_version {version:?}");
    });
}

#[test]
fn mariadb_servers_started_at_the_same_time_all_come_up() {
    // Concurrent installs once collided on temporary table names in a shared /tmp.
    let servers: Vec<MariaDbServer> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..3).map(|_| scope.spawn(MariaDbServer::start)).collect();
        starts.into_iter().map(|start| start.join().unwrap()).collect()
    });
    let mut ports: Vec<u16> = servers.iter().map(MariaDbServer::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3);
    run(async {
        for server in &servers {
            let mut conn = server.connect("mysql").await;
            let users: Option<i64> = conn.query_first("SELECT COUNT(*) FROM mysql.user").await.unwrap();
            assert!(users.unwrap() >= 2);
        }
    });
}

#[test]
#[should_panic(expected = "shared server")]
fn shared_mariadb_refuses_to_be_killed() {
    MariaDbServer::shared().kill();
}

#[test]
fn dropping_a_mariadb_server_stops_it_and_deletes_its_directory() {
    let server = MariaDbServer::start();
    let root = server.data_dir().parent().unwrap().to_path_buf();
    let pid = postmaster_pid(server.data_dir());
    assert!(root.is_dir() && is_running(pid));

    drop(server);

    assert!(!root.exists(), "{} still exists", root.display());
    assert!(!is_running(pid), "mariadbd {pid} still runs");
}

const HOLD_ENV: &str = "SLUICE_TESTKIT_HOLD_MARIADB";

/// Not a test on its own: the owner process for the watchdog test. It starts
/// a server, says where it is, and waits to be killed.
#[test]
#[ignore = "helper process of mariadb_watchdog_cleans_up_after_a_sigkilled_owner"]
fn hold_a_mariadb_until_killed() {
    if std::env::var_os(HOLD_ENV).is_none() {
        return;
    }
    let server = MariaDbServer::start();
    println!("HOLDING {} {}", postmaster_pid(server.data_dir()), server.data_dir().display());
    loop {
        std::thread::park();
    }
}

#[test]
fn mariadb_watchdog_cleans_up_after_a_sigkilled_owner() {
    let mut owner = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "mariadb::hold_a_mariadb_until_killed", "--ignored", "--nocapture"])
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
            "30 s after its owner died, mariadbd running: {}, {} exists: {}",
            is_running(pid),
            root.display(),
            root.exists()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
