use super::*;

const EXAMPLE: &str = r#"
[checkpoints]
path = "./sluice-state"

[sources.erp]
kind = "postgres"
url = "postgres://sluice:${ERP_PASSWORD}@127.0.0.1:5432/erp"
slot = "sluice_erp"
publication = "sluice_erp"

[targets.report]
kind = "postgres"
url = "postgres://sluice@127.0.0.1:5433/report"

[[routes]]
source = "erp"
table = "public.inventory"        # schema.table (MySQL later: database.table)
target = "report"
into = "public.stock"            # defaults to the same name
key = ["sku"]                     # defaults to the source primary key
[routes.columns]                  # target column = source column; unlisted columns map by name
qty_on_hand = "qty"
"#;

fn env(name: &str) -> Option<String> {
    (name == "ERP_PASSWORD").then(|| "hunter2".to_owned())
}

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_text(text, Path::new("/etc/sluice/sluice.toml"), env)
}

#[test]
fn the_documented_example_loads() {
    let config = load(EXAMPLE).unwrap();
    assert_eq!(config.checkpoints_path, Path::new("/etc/sluice/./sluice-state"));
    let SourceConfig::Postgres { url, slot, publication, .. } = &config.sources["erp"] else { panic!("postgres") };
    assert_eq!(url.expose(), "postgres://sluice:hunter2@127.0.0.1:5432/erp");
    assert_eq!((slot.as_str(), publication.as_str()), ("sluice_erp", "sluice_erp"));
    let route = &config.routes[0];
    assert_eq!(route.table, TableName::new("public", "inventory"));
    assert_eq!(route.into, TableName::new("public", "stock"));
    assert_eq!(route.key.as_deref(), Some(&["sku".to_owned()][..]));
    assert_eq!(route.columns["qty_on_hand"].text(), "qty");
}

#[test]
fn passwords_never_show_in_debug_output() {
    let config = load(EXAMPLE).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("sluice:***@127.0.0.1"), "{debug}");
}

#[test]
fn unknown_key_is_rejected_with_its_name_and_line() {
    let text = EXAMPLE.replace("slot = \"sluice_erp\"", "slott = \"sluice_erp\"");
    let message = load(&text).unwrap_err().to_string();
    assert!(message.contains("slott") && message.contains("line 8") && message.contains("sources.erp"), "{message}");
}

#[test]
fn unknown_source_in_route_names_key_and_line() {
    let text = EXAMPLE.replace("source = \"erp\"", "source = \"crm\"");
    let message = load(&text).unwrap_err().to_string();
    assert!(
        message.contains("routes[0].source") && message.contains("line 16") && message.contains("crm"),
        "{message}"
    );
}

#[test]
fn bad_table_name_is_rejected() {
    let text = EXAMPLE.replace("\"public.inventory\"", "\"inventory\"");
    let message = load(&text).unwrap_err().to_string();
    assert!(message.contains("routes[0].table") && message.contains("schema.table"), "{message}");
}

#[test]
fn missing_env_var_is_named() {
    let message = Config::from_text(EXAMPLE, Path::new("x.toml"), |_| None).unwrap_err().to_string();
    assert!(message.contains("ERP_PASSWORD") && message.contains("line 7"), "{message}");
}

#[test]
fn defaults_fill_slot_publication_and_into() {
    let text = r#"
[checkpoints]
path = "/var/lib/sluice"
[sources.erp-main]
kind = "postgres"
url = "postgres://u@h/db"
[targets.report]
kind = "postgres"
url = "postgres://u@h/db2"
[[routes]]
source = "erp-main"
table = "public.items"
target = "report"
"#;
    let config = load(text).unwrap();
    let SourceConfig::Postgres { slot, publication, .. } = &config.sources["erp-main"] else { panic!("postgres") };
    assert_eq!(slot, "sluice_erp_main");
    assert_eq!(publication, "sluice_erp_main");
    assert_eq!(config.routes[0].into, TableName::new("public", "items"));
    let TargetConfig::Postgres { offsets_table, .. } = &config.targets["report"] else { panic!("postgres") };
    assert_eq!(offsets_table, &TableName::new("sluice", "offsets"));
}

#[test]
fn redaction_covers_userinfo_and_query_passwords() {
    assert_eq!(redact_url("postgres://a:b@h:1/d"), "postgres://a:***@h:1/d");
    assert_eq!(
        redact_url("postgres://a@h/d?password=x&sslmode=require"),
        "postgres://a@h/d?password=***&sslmode=require"
    );
    assert_eq!(redact_url("postgres://h/d"), "postgres://h/d");
}

#[test]
fn the_documented_mysql_example_loads() {
    let text = r#"
[checkpoints]
path = "./state"

[sources.crm]
kind = "mysql"                     # MySQL and MariaDB
url = "mysql://sluice:${CRM_PASSWORD}@127.0.0.1:3306/crm"
server_id = 7001

[targets.shop]
kind = "mysql"
url = "mysql://sluice:${SHOP_PASSWORD}@127.0.0.1:3307/shop"

[[routes]]
source = "crm"
table = "crm.orders"               # database.table
target = "shop"
into = "shop.orders"
"#;
    let config = Config::from_text(text, Path::new("s.toml"), |name| Some(format!("pw-{name}"))).unwrap();
    let SourceConfig::Mysql { url, server_id, .. } = &config.sources["crm"] else { panic!("mysql source") };
    assert_eq!(*server_id, 7001);
    assert_eq!(url.expose(), "mysql://sluice:pw-CRM_PASSWORD@127.0.0.1:3306/crm");
    let TargetConfig::Mysql { offsets_table, .. } = &config.targets["shop"] else { panic!("mysql target") };
    assert_eq!(offsets_table, &TableName::new("sluice", "offsets"));
    assert_eq!(config.routes[0].into, TableName::new("shop", "orders"));
}

#[test]
fn a_mysql_source_needs_a_server_id() {
    let text = "[checkpoints]\npath = \"s\"\n[sources.crm]\nkind = \"mysql\"\nurl = \"mysql://u@h/\"\n";
    let message = load(text).unwrap_err().to_string();
    assert!(message.contains("server_id"), "{message}");
}

#[test]
fn snapshot_settings_and_the_route_snapshot_mode_load_and_are_checked() {
    let config = load(EXAMPLE).unwrap();
    assert_eq!(config.routes[0].snapshot, SnapshotMode::Initial, "routes copy existing rows by default");
    assert_eq!(config.snapshot.chunk_rows, 10_000);
    assert!((1..=4).contains(&config.snapshot.workers));

    let text = EXAMPLE.replace("[routes.columns]", "snapshot = \"never\"\n[routes.columns]")
        + "\n[snapshot]\nworkers = 3\nchunk_rows = 500\n";
    let config = load(&text).unwrap();
    assert_eq!(config.routes[0].snapshot, SnapshotMode::Never);
    assert_eq!((config.snapshot.workers, config.snapshot.chunk_rows), (3, 500));

    let zero = format!("{EXAMPLE}\n[snapshot]\nchunk_rows = 0\n");
    let message = load(&zero).unwrap_err().to_string();
    assert!(message.contains("snapshot") && message.contains("chunk_rows"), "{message}");
    let bad = EXAMPLE.replace("[routes.columns]", "snapshot = \"sometimes\"\n[routes.columns]");
    assert!(load(&bad).is_err());
}
