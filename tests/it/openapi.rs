//! The OpenAPI patterns say what the parsers accept: each schema's examples and a set
//! of counter-examples go through both the pattern (with its length bounds) and the
//! parser, which must agree.

use serde_json::Value;
use theater::domain::{Email, Id};
use theater::openapi::document;
use theater::service::ServiceKind;

/// The schema's pattern, with its length bounds, as one check.
fn schema_check(schema: &Value) -> impl Fn(&str) -> bool {
    let pattern = regex::Regex::new(schema["pattern"].as_str().expect("a pattern")).expect("a valid pattern");
    let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
    let max = schema["maxLength"].as_u64().map_or(usize::MAX, |m| m as usize);
    move |value: &str| pattern.is_match(value) && (min..=max).contains(&value.chars().count())
}

fn examples(schema: &Value) -> Vec<String> {
    schema["examples"].as_array().expect("examples").iter().map(|e| e.as_str().unwrap().to_owned()).collect()
}

#[test]
fn the_id_pattern_accepts_exactly_what_the_id_parser_accepts() {
    let doc = serde_json::to_value(document(ServiceKind::User)).unwrap();
    let schema = &doc["components"]["schemas"]["Id"];
    let matches = schema_check(schema);
    let mut cases = examples(schema);
    cases.extend(
        ["7", "42", "007", "1000000000000000000", "9999999999999999999", "0000000000000000001"]
            .into_iter()
            .chain([
                "",
                "0",
                "000",
                "-1",
                "+1",
                "1e3",
                "1.0",
                "abc",
                "12a",
                "99999999999999999999",
                "00000000000000000001",
            ])
            .map(str::to_owned),
    );
    for case in cases {
        assert_eq!(matches(&case), Id::parse(&case).is_some(), "pattern and parser disagree on {case:?}");
    }
}

#[test]
fn the_email_pattern_accepts_exactly_what_the_email_check_accepts() {
    let doc = serde_json::to_value(document(ServiceKind::User)).unwrap();
    let schema = &doc["components"]["schemas"]["CreateUserRequest"]["properties"]["email"];
    let matches = schema_check(schema);
    let mut cases = examples(schema);
    let long_label = "a".repeat(63);
    cases.extend(
        [
            "hong@example.com",
            "Hong.Gil-Dong@Example.CO.kr",
            "a+tag@b.io",
            "o'brien@example.ie",
            "x_y{z}~!#$%&*/=?^`|@a-b.example",
            &format!("a@{long_label}.com"),
            "hong",
            "@example.com",
            "hong@",
            "hong@example",
            "ho ng@example.com",
            "a@b..com",
            "a@-b.com",
            "a@b-.com",
            ".a@b.com",
            "a.@b.com",
            "a..b@c.com",
            "a@b_c.com",
            "a@@b.com",
            "한국@example.com",
            &format!("a@{long_label}a.com"),
            &format!("a@{}.com", "b".repeat(250)),
        ]
        .map(str::to_owned),
    );
    for case in cases {
        assert_eq!(matches(&case), Email::parse(&case).is_ok(), "pattern and check disagree on {case:?}");
    }
    // The two rules the schema's description states instead of its pattern.
    assert!(Email::parse(" hong@example.com ").is_ok() && !matches(" hong@example.com "), "spaces are trimmed");
    let long_local = format!("{}@example.com", "a".repeat(65));
    assert!(Email::parse(&long_local).is_err() && matches(&long_local), "the part before '@' is at most 64");
}

/// `/api/mesh` is described by its schema, one alternative per `source`, so the API
/// fuzz run (tests/fuzz/run.sh) checks its answers like the other endpoints'.
#[test]
fn the_gateway_documents_what_api_mesh_answers() {
    let doc = serde_json::to_value(document(ServiceKind::Gateway)).unwrap();
    let ok = &doc["paths"]["/api/mesh"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(ok["$ref"], "#/components/schemas/Mesh", "{ok}");
    let schemas = &doc["components"]["schemas"];
    let sources: Vec<&Value> = schemas["Mesh"]["oneOf"]
        .as_array()
        .expect("one alternative per source")
        .iter()
        .map(|alternative| &alternative["properties"]["source"]["enum"][0])
        .collect();
    assert_eq!(sources, ["kubernetes", "file", "none", "unavailable"], "{}", schemas["Mesh"]);
    for name in ["ServiceRules", "Route", "Destination", "HeaderMatch", "Subset"] {
        assert!(schemas[name]["properties"].is_object(), "no schema {name}");
    }
    let rules = &schemas["ServiceRules"]["properties"];
    for field in ["subsets", "defaultRoute", "headerRoutes", "routes", "trafficPolicy", "weights"] {
        assert!(rules.get(field).is_some(), "ServiceRules lacks {field}");
    }
}
