//! Movies: the request body, the validated form, and the stored record.

use serde::{Deserialize, Serialize};

use crate::problem::{FieldError, Problem};
use crate::request::Id;

/// `POST /movies/` as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMovieRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", examples("올드보이"))]
    pub title: String,
    #[schema(min_length = 1, max_length = 50, pattern = r"\S", examples("스릴러"))]
    pub genre: String,
    #[schema(minimum = 1888, maximum = 2100)]
    pub year: i64,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub director: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000)]
    pub seats: Option<i64>,
}

/// A movie ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMovie {
    pub title: String,
    pub genre: String,
    pub year: u16,
    pub director: Option<String>,
    /// Hall capacity.
    pub seats: u32,
}

impl NewMovie {
    pub const DEFAULT_SEATS: u32 = 100;
    pub const MAX_SEATS: u32 = 100_000;
    pub const YEARS: std::ops::RangeInclusive<i64> = 1888..=2100;
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

impl TryFrom<CreateMovieRequest> for NewMovie {
    type Error = Problem;

    fn try_from(req: CreateMovieRequest) -> Result<Self, Problem> {
        let mut errors = Vec::new();
        let title = text("title", &req.title, 200, &mut errors);
        let genre = text("genre", &req.genre, 50, &mut errors);
        let director = match req.director.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) => Some(text("director", d, 100, &mut errors)),
        };
        if !NewMovie::YEARS.contains(&req.year) {
            errors.push(FieldError::new("year", "must be between 1888 and 2100"));
        }
        let seats = req.seats.unwrap_or(i64::from(NewMovie::DEFAULT_SEATS));
        if !(1..=i64::from(NewMovie::MAX_SEATS)).contains(&seats) {
            errors.push(FieldError::new("seats", format!("must be between 1 and {}", NewMovie::MAX_SEATS)));
        }
        if !errors.is_empty() {
            return Err(Problem::invalid(errors));
        }
        Ok(NewMovie { title, genre, year: req.year as u16, director, seats: seats as u32 })
    }
}

/// A stored movie with its live seat count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Movie {
    pub id: Id,
    pub title: String,
    pub genre: String,
    pub year: u16,
    pub director: Option<String>,
    pub seats: u32,
    pub available_seats: u32,
    pub created_at: String,
}

impl Movie {
    /// The record a store keeps for `new` once it has an id: every seat still free.
    pub fn stored(id: Id, new: &NewMovie, created_at: String) -> Movie {
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
pub fn seed_movies() -> Vec<(Id, NewMovie)> {
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

    fn request(year: i64, seats: Option<i64>) -> CreateMovieRequest {
        CreateMovieRequest { title: " 기생충 ".into(), genre: "드라마".into(), year, director: None, seats }
    }

    #[test]
    fn defaults_seats_and_trims_text() {
        let movie = NewMovie::try_from(request(2019, None)).unwrap();
        assert_eq!((movie.title.as_str(), movie.seats), ("기생충", 100));
    }

    #[test]
    fn rejects_out_of_range_year_and_seats_together() {
        let err = NewMovie::try_from(request(1700, Some(0))).unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["year", "seats"]);
    }
}
