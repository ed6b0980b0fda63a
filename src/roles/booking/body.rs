//! The body of `POST /bookings/` and its conversion into a [`BookingOrder`].

use serde::Deserialize;
use serde_json::Value;

use crate::data::domain::{BookingOrder, Id};
use crate::http::problem::Problem;

/// `POST /bookings/` as sent. Each field is taken as raw JSON and parsed on its own,
/// so one 400 names every invalid field (the guide's `{"userId":"user-id",
/// "movieId":"movie-id"}` gets both), not just the first serde meets.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CreateBookingRequest {
    #[serde(default)]
    #[schema(value_type = Id, required = true)]
    user_id: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Id, required = true)]
    movie_id: Option<Value>,
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 10, required = true)]
    seats: Option<Value>,
}

impl TryFrom<CreateBookingRequest> for BookingOrder {
    type Error = Problem;

    fn try_from(req: CreateBookingRequest) -> Result<Self, Problem> {
        BookingOrder::parse(req.user_id, req.movie_id, req.seats).map_err(Problem::invalid)
    }
}
