//! Users: the validated form and the stored record.

use serde::{Deserialize, Serialize};

use super::{FieldError, Id};

/// A user name: trimmed, 1-100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserName(String);

impl UserName {
    pub(crate) const MAX_CHARS: usize = 100;

    pub(crate) fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(FieldError::new("name", "must not be empty"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new("name", format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new("name", "must not contain control characters"));
        }
        Ok(UserName(name.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, trimmed and lower-cased so uniqueness ignores case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub(crate) const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let fail = |why: &str| FieldError::new("email", why);
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(fail("must not be empty"));
        }
        if email.len() > Self::MAX_LEN {
            return Err(fail("must be at most 254 characters"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(fail("must contain '@'"));
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        if !local_ok {
            return Err(fail("has an invalid part before '@'"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return Err(fail("has an invalid domain (expected e.g. example.com)"));
        }
        Ok(Email(email))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user ready to store.
#[derive(Debug, Clone)]
pub(crate) struct NewUser {
    pub(crate) name: UserName,
    pub(crate) email: Email,
}

impl NewUser {
    /// Checks both fields; every invalid one is reported.
    pub(crate) fn parse(name: &str, email: &str) -> Result<Self, Vec<FieldError>> {
        match (UserName::parse(name), Email::parse(email)) {
            (Ok(name), Ok(email)) => Ok(NewUser { name, email }),
            (name, email) => Err(name.err().into_iter().chain(email.err()).collect()),
        }
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    pub(crate) id: Id,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) created_at: String,
}

impl User {
    /// The record a store keeps for `new` once it has an id.
    pub(crate) fn stored(id: Id, new: &NewUser, created_at: String) -> User {
        User { id, name: new.name.as_str().to_owned(), email: new.email.as_str().to_owned(), created_at }
    }
}

/// The sample users every fresh store starts with (ids 1-3). Never the guide's first
/// example (홍길동, hong@example.com): that POST must answer 201 on a fresh install.
pub(crate) fn seed_users() -> Vec<(Id, NewUser)> {
    [("김민준", "minjun@example.com"), ("이서연", "seoyeon@example.com"), ("박지호", "jiho@example.com")]
        .into_iter()
        .enumerate()
        .map(|(i, (name, email))| {
            let user = NewUser {
                name: UserName::parse(name).expect("seed names are valid"),
                email: Email::parse(email).expect("seed emails are valid"),
            };
            (Id(i as u64 + 1), user)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_is_trimmed_and_bounded_in_characters_not_bytes() {
        assert_eq!(UserName::parse("  홍길동 ").unwrap().as_str(), "홍길동");
        assert!(UserName::parse("   ").is_err());
        assert!(UserName::parse(&"가".repeat(100)).is_ok());
        assert!(UserName::parse(&"가".repeat(101)).is_err());
        assert!(UserName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(Email::parse(" Hong@Example.COM ").unwrap().as_str(), "hong@example.com");
        for bad in ["", "hong", "@example.com", "hong@", "hong@example", "ho ng@example.com", "a@b..com", "a@-b.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn both_fields_are_reported_at_once() {
        let errors = NewUser::parse("", "x").unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email"]);
    }
}
