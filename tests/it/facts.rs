//! `tests/services.json`: the service table's facts (names, roles, ports, proxied
//! prefixes) for the tests and scripts written in other languages, so none of them
//! restates the table by hand. Generated from `service::TABLE`: this test fails when
//! the file and the table differ; `THEATER_WRITE_FACTS=1 cargo test --test it facts::`
//! writes it anew.

use serde_json::{Value, json};
use theater::service::TABLE;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/services.json");

fn from_table() -> String {
    let services: Vec<Value> = TABLE
        .iter()
        .map(|row| json!({"name": row.name, "role": row.role, "port": row.port, "prefix": row.prefix}))
        .collect();
    let facts = json!({
        "generated": "from src/settings/service.rs by tests/it/facts.rs; do not edit",
        "services": services,
    });
    serde_json::to_string_pretty(&facts).expect("JSON values serialize") + "\n"
}

#[test]
fn services_json_is_the_service_table() {
    let wanted = from_table();
    if std::env::var_os("THEATER_WRITE_FACTS").is_some() {
        std::fs::write(FILE, &wanted).expect("write tests/services.json");
    }
    let found = std::fs::read_to_string(FILE).unwrap_or_default();
    assert_eq!(
        found, wanted,
        "tests/services.json differs from src/settings/service.rs: run THEATER_WRITE_FACTS=1 cargo test --test it facts::"
    );
}
