//! The command line as a DBA uses it: config errors, `check`, `status`,
//! `checkpoints`, exit codes, and no password anywhere in the output.

use std::time::Duration;

use sluice_testkit::{SCRAM_PASSWORD, SCRAM_USER};

use super::support::{Fixture, Sluice};

const WAIT: Duration = Duration::from_secs(60);

fn text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_config_exits_2_naming_key_and_line_and_writes_nothing() {
    let fixture = Fixture::new("badconfig", "CREATE TABLE items (id int PRIMARY KEY);").await;
    fixture.write_config(&["public.items"], "");
    let good = std::fs::read_to_string(&fixture.config).unwrap();
    std::fs::write(&fixture.config, good.replace("slot = ", "slott = ")).unwrap();

    let mut sluice = Sluice::spawn(&fixture.config, fixture.dir.path());
    assert_eq!(sluice.wait_exit(WAIT), Some(2));
    let log = sluice.log();
    assert!(log.contains("slott") && log.contains("line 7"), "{log}");

    let check = fixture.command(&["check"]);
    assert_eq!(check.status.code(), Some(2), "{}", text(&check));

    let slots: i64 = fixture
        .source_client
        .query_one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", &[&fixture.slot()])
        .await
        .unwrap()
        .get(0);
    assert_eq!(slots, 0, "no slot created");
    let offsets: i64 = fixture
        .target_client
        .query_one("SELECT count(*) FROM pg_namespace WHERE nspname = 'sluice'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(offsets, 0, "nothing written to the target");
    assert!(!fixture.state_path().exists(), "no checkpoint store created");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_environment_variable_is_named() {
    let fixture = Fixture::new("noenv", "CREATE TABLE items (id int PRIMARY KEY);").await;
    fixture.write_config(&["public.items"], "");
    let config = std::fs::read_to_string(&fixture.config).unwrap();
    std::fs::write(
        &fixture.config,
        config.replace("postgres://postgres@", "postgres://postgres:${SLUICE_TEST_UNSET_PW}@"),
    )
    .unwrap();
    let output = fixture.command(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("SLUICE_TEST_UNSET_PW"), "{}", text(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_passes_on_a_ready_setup() {
    let fixture = Fixture::new("checkok", "CREATE TABLE items (id int PRIMARY KEY, name text);").await;
    fixture.write_config(&["public.items"], "");
    let output = fixture.command(&["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let status = fixture.command(&["status"]);
    assert!(text(&status).contains("slot"), "{}", text(&status));
    let created: i64 = fixture
        .target_client
        .query_one("SELECT count(*) FROM pg_namespace WHERE nspname = 'sluice'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(created, 0, "check and status write nothing, not even the offsets table");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_a_table_without_primary_key_with_the_fix() {
    let fixture = Fixture::new("checknopk", "CREATE TABLE logs (at timestamptz, line text);").await;
    fixture.write_config(&["public.logs"], "");
    let output = fixture.command(&["check"]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(3), "{out}");
    assert!(out.contains("public.logs") && out.contains("REPLICA IDENTITY FULL"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_a_missing_target_column() {
    let fixture = Fixture::new("checkcol", "CREATE TABLE items (id int PRIMARY KEY, name text);").await;
    fixture.target_client.batch_execute("ALTER TABLE items DROP COLUMN name").await.unwrap();
    fixture.write_config(&["public.items"], "");
    let output = fixture.command(&["check"]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(3), "{out}");
    assert!(out.contains("name"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_json_reports_positions_lag_and_retained_wal() {
    let fixture = Fixture::new("status", "CREATE TABLE items (id int PRIMARY KEY, v int);").await;
    fixture.write_config(&["public.items"], "");
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture.source_client.batch_execute("INSERT INTO items SELECT i, i FROM generate_series(1, 100) i").await.unwrap();
    fixture.wait_equal("items", WAIT, &mut sluice).await;

    let output = fixture.command(&["status", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).expect("status --json prints JSON");
    let source = &status[0];
    assert_eq!(source["source"], "src");
    assert!(source["targets"][0]["position"].as_str().is_some_and(|p| p.starts_with("pg:")), "{source}");
    assert!(source["server_position"].as_str().is_some_and(|p| p.starts_with("pg:")), "{source}");
    assert!(source["lag_bytes"].as_u64().is_some(), "{source}");
    assert!(source["lag_seconds"].as_f64().is_some(), "{source}");
    assert!(source["slot"]["retained_wal_bytes"].as_u64().is_some(), "{source}");
    assert_eq!(source["slot"]["active"], true);

    let table = fixture.command(&["status"]);
    let out = text(&table);
    assert!(out.contains("lag:") && out.contains("retains"), "{out}");
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_engine_on_the_same_checkpoints_exits_5() {
    let fixture = Fixture::new("locked", "CREATE TABLE items (id int PRIMARY KEY);").await;
    fixture.write_config(&["public.items"], "");
    let mut first = fixture.spawn();
    fixture.wait_streaming(&mut first).await;
    let second_dir = fixture.dir.path().join("second");
    std::fs::create_dir_all(&second_dir).unwrap();
    let mut second = Sluice::spawn(&fixture.config, &second_dir);
    assert_eq!(second.wait_exit(WAIT), Some(5), "{}", second.log_tail());
    assert!(second.log().contains("in use by another process"));
    assert_eq!(first.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_show_and_reset() {
    let fixture = Fixture::new("ckpt", "CREATE TABLE items (id int PRIMARY KEY);").await;
    fixture.write_config(&["public.items"], "");
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture.source_client.batch_execute("INSERT INTO items VALUES (1)").await.unwrap();
    fixture.wait_equal("items", WAIT, &mut sluice).await;
    assert_eq!(sluice.terminate(), Some(0));

    let show = fixture.command(&["checkpoints", "show"]);
    let out = text(&show);
    assert_eq!(show.status.code(), Some(0), "{out}");
    assert!(out.contains("source src: acknowledged pg:") && out.contains("offsets table pg:"), "{out}");

    let reset = fixture.command(&["checkpoints", "reset", "--source", "src", "--drop-slot", "--yes"]);
    assert_eq!(reset.status.code(), Some(0), "{}", text(&reset));
    let rows: i64 = fixture.target_client.query_one("SELECT count(*) FROM sluice.offsets", &[]).await.unwrap().get(0);
    assert_eq!(rows, 0);
    let slots: i64 = fixture
        .source_client
        .query_one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", &[&fixture.slot()])
        .await
        .unwrap()
        .get(0);
    assert_eq!(slots, 0);
    let show = fixture.command(&["checkpoints", "show"]);
    assert!(text(&show).contains("source src: acknowledged -"), "{}", text(&show));
}

#[tokio::test(flavor = "multi_thread")]
async fn replicates_over_scram_and_never_prints_the_password() {
    let fixture = Fixture::new("scram", "CREATE TABLE items (id int PRIMARY KEY, v text);").await;
    let grants = format!(
        "ALTER TABLE items OWNER TO {SCRAM_USER}; GRANT CREATE ON DATABASE \"{}\" TO {SCRAM_USER};",
        fixture.source.name
    );
    fixture.source_client.batch_execute(&grants).await.unwrap();
    fixture.write_config(&["public.items"], "");
    let config = std::fs::read_to_string(&fixture.config).unwrap();
    let source_url = fixture.source.url();
    let scram_url =
        source_url.replace("postgres://postgres@", &format!("postgres://{SCRAM_USER}:${{SOURCE_PASSWORD}}@"));
    std::fs::write(&fixture.config, config.replacen(&source_url, &scram_url, 1)).unwrap();

    let mut sluice =
        Sluice::spawn_with_env(&fixture.config, fixture.dir.path(), &[("SOURCE_PASSWORD", SCRAM_PASSWORD)]);
    fixture.wait_streaming(&mut sluice).await;
    fixture.source_client.batch_execute("INSERT INTO items VALUES (1, 'over scram')").await.unwrap();
    fixture.wait_equal("items", WAIT, &mut sluice).await;
    assert_eq!(sluice.terminate(), Some(0));

    let status = std::process::Command::new(super::support::SLUICE)
        .args(["status", "-c"])
        .arg(&fixture.config)
        .env("SOURCE_PASSWORD", SCRAM_PASSWORD)
        .output()
        .unwrap();
    // A wrong password: the error must not echo the password either.
    let wrong = std::process::Command::new(super::support::SLUICE)
        .args(["check", "-c"])
        .arg(&fixture.config)
        .env("SOURCE_PASSWORD", "wrong-Pa55word-xyz")
        .output()
        .unwrap();
    assert_ne!(wrong.status.code(), Some(0));
    for (name, output) in [("run log", sluice.log()), ("status", text(&status)), ("check", text(&wrong))] {
        assert!(!output.contains(SCRAM_PASSWORD), "{name} shows the password:\n{output}");
        assert!(!output.contains("wrong-Pa55word-xyz"), "{name} shows the password:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resetting_one_restored_target_copies_its_routes_again_and_keeps_the_other_targets_position() {
    let schema = "CREATE TABLE items (id int PRIMARY KEY, v int);";
    let fixture = Fixture::new("resettarget", schema).await;
    let second = sluice_testkit::PgServer::shared().create_database("resettarget_dst2").await;
    let second_client = second.connect().await;
    second_client.batch_execute(schema).await.unwrap();
    fixture.source_client.batch_execute("INSERT INTO items SELECT i, i FROM generate_series(1, 200) i").await.unwrap();
    fixture.write_config(
        &["public.items"],
        &format!(
            "[targets.dst2]\nkind = \"postgres\"\nurl = \"{}\"\n\n[[routes]]\nsource = \"src\"\ntable = \"public.items\"\ntarget = \"dst2\"\n",
            second.url()
        ),
    );
    let second_equal = || async {
        super::support::digest(&second_client, "items").await
            == super::support::digest(&fixture.source_client, "items").await
    };
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture.source_client.batch_execute("UPDATE items SET v = -v WHERE id <= 50").await.unwrap();
    fixture.wait_equal("items", WAIT, &mut sluice).await;
    super::support::wait_for(WAIT, &mut sluice, second_equal).await;
    assert_eq!(sluice.terminate(), Some(0));
    let first_position = || async {
        fixture
            .target_client
            .query_one("SELECT position FROM sluice.offsets WHERE pipeline = 'src'", &[])
            .await
            .unwrap()
            .get::<_, String>(0)
    };
    let first_before = first_position().await;

    // dst2 is restored from a backup taken before Sluice ever ran, emptied
    // by the DBA, with an offsets row older than the slot.
    second_client.batch_execute("TRUNCATE items; UPDATE sluice.offsets SET position = 'pg:0/1'").await.unwrap();
    let mut refused = fixture.spawn();
    assert_eq!(refused.wait_exit(WAIT), Some(4), "{}", refused.log_tail());

    let unknown = fixture.command(&["checkpoints", "reset", "--source", "src", "--target", "nope", "--yes"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
    assert!(text(&unknown).contains("dst, dst2"), "the error lists the source's targets: {}", text(&unknown));

    let reset = fixture.command(&["checkpoints", "reset", "--source", "src", "--target", "dst2", "--yes"]);
    assert_eq!(reset.status.code(), Some(0), "{}", text(&reset));
    assert!(text(&reset).contains("copied again on the next run"), "{}", text(&reset));
    let remaining: i64 = second_client.query_one("SELECT count(*) FROM sluice.offsets", &[]).await.unwrap().get(0);
    assert_eq!(remaining, 0, "dst2's offsets row is gone");
    assert_eq!(first_position().await, first_before, "dst's offsets row is untouched");
    let show = text(&fixture.command(&["checkpoints", "show"]));
    assert!(show.contains("target dst: checkpoint store pg:"), "dst keeps its checkpoint entry: {show}");
    assert!(show.contains("target dst2: checkpoint store -, offsets table -"), "{show}");
    assert_eq!(
        show.matches("initial snapshot of route").count(),
        1,
        "only dst's route keeps its snapshot record: {show}"
    );

    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture
        .source_client
        .batch_execute("INSERT INTO items SELECT i, i FROM generate_series(201, 300) i")
        .await
        .unwrap();
    fixture.wait_equal("items", WAIT, &mut sluice).await;
    super::support::wait_for(WAIT, &mut sluice, second_equal).await;
    assert_eq!(sluice.terminate(), Some(0));
    let show = text(&fixture.command(&["checkpoints", "show"]));
    assert_eq!(show.matches("initial snapshot of route").count(), 2, "dst2's route was copied again: {show}");
    assert!(!show.contains("offsets table -"), "both targets hold positions again: {show}");
}
