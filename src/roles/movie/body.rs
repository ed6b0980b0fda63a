//! The body of `POST /movies/` and its conversion into a [`NewMovie`].

use serde::Deserialize;

use crate::data::domain::{MovieFields, NewMovie};
use crate::http::problem::Problem;

/// `POST /movies/` as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateMovieRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", examples("올드보이"))]
    title: String,
    #[schema(min_length = 1, max_length = 50, pattern = r"\S", examples("스릴러"))]
    genre: String,
    #[schema(minimum = 1888, maximum = 2100)]
    year: i64,
    #[serde(default)]
    #[schema(max_length = 100)]
    director: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100_000)]
    seats: Option<i64>,
}

impl TryFrom<CreateMovieRequest> for NewMovie {
    type Error = Problem;

    fn try_from(req: CreateMovieRequest) -> Result<Self, Problem> {
        NewMovie::parse(MovieFields {
            title: &req.title,
            genre: &req.genre,
            year: req.year,
            director: req.director.as_deref(),
            seats: req.seats,
        })
        .map_err(Problem::invalid)
    }
}
