//! Movies: the validated form and the stored record.

use serde::{Deserialize, Serialize};

use super::{FieldError, Id};

/// A movie ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewMovie {
    pub(crate) title: String,
    pub(crate) genre: String,
    pub(crate) year: u16,
    pub(crate) director: Option<String>,
    /// Hall capacity.
    pub(crate) seats: u32,
}

impl NewMovie {
    pub(crate) const DEFAULT_SEATS: u32 = 100;
    pub(crate) const MAX_SEATS: u32 = 100_000;
    pub(crate) const YEARS: std::ops::RangeInclusive<i64> = 1888..=2100;
}

fn text(field: &str, raw: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let value = raw.trim();
    if value.is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
    } else if value.chars().any(char::is_control) {
        errors.push(FieldError::new(field, "must not contain control characters"));
    }
    value.to_owned()
}

/// A movie's fields as sent, before they are checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MovieFields<'a> {
    pub(crate) title: &'a str,
    pub(crate) genre: &'a str,
    pub(crate) year: i64,
    pub(crate) director: Option<&'a str>,
    pub(crate) seats: Option<i64>,
}

impl NewMovie {
    /// Checks every field; every invalid one is reported.
    pub(crate) fn parse(raw: MovieFields<'_>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = text("title", raw.title, 200, &mut errors);
        let genre = text("genre", raw.genre, 50, &mut errors);
        let director = match raw.director.map(str::trim) {
            None | Some("") => None,
            Some(d) => Some(text("director", d, 100, &mut errors)),
        };
        if !NewMovie::YEARS.contains(&raw.year) {
            errors.push(FieldError::new("year", "must be between 1888 and 2100"));
        }
        let seats = raw.seats.unwrap_or(i64::from(NewMovie::DEFAULT_SEATS));
        if !(1..=i64::from(NewMovie::MAX_SEATS)).contains(&seats) {
            errors.push(FieldError::new("seats", format!("must be between 1 and {}", NewMovie::MAX_SEATS)));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(NewMovie { title, genre, year: raw.year as u16, director, seats: seats as u32 })
    }
}

/// A stored movie with its live seat count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Movie {
    pub(crate) id: Id,
    pub(crate) title: String,
    pub(crate) genre: String,
    pub(crate) year: u16,
    pub(crate) director: Option<String>,
    pub(crate) seats: u32,
    pub(crate) available_seats: u32,
    pub(crate) created_at: String,
}

impl Movie {
    /// The record a store keeps for `new` once it has an id: every seat still free.
    pub(crate) fn stored(id: Id, new: &NewMovie, created_at: String) -> Movie {
        Movie {
            id,
            title: new.title.clone(),
            genre: new.genre.clone(),
            year: new.year,
            director: new.director.clone(),
            seats: new.seats,
            available_seats: new.seats,
            created_at,
        }
    }
}

/// The sample movies every fresh store starts with (ids 1-3).
pub(crate) fn seed_movies() -> Vec<(Id, NewMovie)> {
    [
        ("어벤져스", "액션", 2019, "Anthony Russo, Joe Russo"),
        ("겨울왕국", "애니메이션", 2019, "Chris Buck, Jennifer Lee"),
        ("기생충", "드라마", 2019, "봉준호"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (title, genre, year, director))| {
        let movie = NewMovie {
            title: title.to_owned(),
            genre: genre.to_owned(),
            year,
            director: Some(director.to_owned()),
            seats: NewMovie::DEFAULT_SEATS,
        };
        (Id(i as u64 + 1), movie)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(year: i64, seats: Option<i64>) -> MovieFields<'static> {
        MovieFields { title: " 기생충 ", genre: "드라마", year, director: None, seats }
    }

    #[test]
    fn defaults_seats_and_trims_text() {
        let movie = NewMovie::parse(request(2019, None)).unwrap();
        assert_eq!((movie.title.as_str(), movie.seats), ("기생충", 100));
    }

    #[test]
    fn rejects_out_of_range_year_and_seats_together() {
        let errors = NewMovie::parse(request(1700, Some(0))).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["year", "seats"]);
    }
}
