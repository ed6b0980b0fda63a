//! UTC timestamps in RFC 3339 with milliseconds, as records and `/info` show them.

/// The current time as `2026-11-24T18:52:31.123Z` (jiff, already compiled in for kube).
pub(crate) fn now_rfc3339() -> String {
    format!("{:.3}", jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants_with_three_fraction_digits() {
        let at = |secs: i64, millis: i32| format!("{:.3}", jiff::Timestamp::new(secs, millis * 1_000_000).unwrap());
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_795_546_351, 123), "2026-11-24T18:52:31.123Z");
        assert_eq!(now_rfc3339().len(), "2026-11-24T18:52:31.123Z".len());
    }
}
