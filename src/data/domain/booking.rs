//! Bookings: the validated order, the confirmed booking and the stored record.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FieldError, Id, ServedBy};

/// Seats in one booking: 1-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeatCount(u32);

impl SeatCount {
    pub(crate) const MAX: u32 = 10;

    pub(crate) fn parse(raw: i64) -> Result<Self, FieldError> {
        if (1..=i64::from(Self::MAX)).contains(&raw) {
            Ok(SeatCount(raw as u32))
        } else {
            Err(FieldError::new("seats", format!("must be between 1 and {}", Self::MAX)))
        }
    }

    pub(crate) fn get(self) -> u32 {
        self.0
    }
}

/// A validated booking request, before its user and movie are checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BookingOrder {
    pub(crate) user_id: Id,
    pub(crate) movie_id: Id,
    pub(crate) seats: SeatCount,
}

impl BookingOrder {
    /// Checks each field (raw JSON, `None` when left out); every invalid one is reported.
    pub(crate) fn parse(
        user_id: Option<Value>,
        movie_id: Option<Value>,
        seats: Option<Value>,
    ) -> Result<Self, Vec<FieldError>> {
        let user_id = required("userId", user_id).and_then(|v| parse_id("userId", v));
        let movie_id = required("movieId", movie_id).and_then(|v| parse_id("movieId", v));
        let seats = required("seats", seats).and_then(|v| match v.as_i64() {
            Some(n) => SeatCount::parse(n),
            None => Err(FieldError::new("seats", format!("must be an integer between 1 and {}", SeatCount::MAX))),
        });
        match (user_id, movie_id, seats) {
            (Ok(user_id), Ok(movie_id), Ok(seats)) => Ok(BookingOrder { user_id, movie_id, seats }),
            (user_id, movie_id, seats) => {
                Err([user_id.err(), movie_id.err(), seats.err()].into_iter().flatten().collect())
            }
        }
    }
}

fn required(field: &str, value: Option<Value>) -> Result<Value, FieldError> {
    value.ok_or_else(|| FieldError::new(field, "is required"))
}

fn parse_id(field: &str, value: Value) -> Result<Id, FieldError> {
    Id::deserialize(value).map_err(|e| FieldError::new(field, e.to_string()))
}

/// Which pod answered each step of a booking: how the class sees cross-cluster calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct Route {
    /// The user-service pod that confirmed the user (null if it sent no identity headers).
    pub(crate) user: Option<ServedBy>,
    /// The movie-service pod that confirmed the movie.
    pub(crate) movie: Option<ServedBy>,
    /// The booking-service pod that reserved the seats.
    pub(crate) booking: ServedBy,
}

/// A booking whose user and movie were confirmed, ready to reserve seats for.
#[derive(Debug, Clone)]
pub(crate) struct NewBooking {
    pub(crate) order: BookingOrder,
    pub(crate) route: Route,
}

/// A stored booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Booking {
    pub(crate) id: Id,
    pub(crate) user_id: Id,
    pub(crate) movie_id: Id,
    pub(crate) seats: u32,
    pub(crate) created_at: String,
    pub(crate) route: Route,
}

impl Booking {
    /// The record a store keeps for `new` once its seats are reserved.
    pub(crate) fn stored(id: Id, new: NewBooking, created_at: String) -> Booking {
        Booking {
            id,
            user_id: new.order.user_id,
            movie_id: new.order.movie_id,
            seats: new.order.seats.get(),
            created_at,
            route: new.route,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(body: &Value) -> Result<BookingOrder, Vec<String>> {
        let field = |name: &str| body.get(name).filter(|v| !v.is_null()).cloned();
        BookingOrder::parse(field("userId"), field("movieId"), field("seats"))
            .map_err(|errors| errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect())
    }

    #[test]
    fn names_every_invalid_field_at_once() {
        let errors = order(&serde_json::json!({"userId": "user-id", "movieId": "movie-id", "seats": 2})).unwrap_err();
        assert_eq!(
            errors,
            [
                "userId: must be a positive integer id such as \"1\"",
                "movieId: must be a positive integer id such as \"1\""
            ]
        );
        let errors = order(&serde_json::json!({"seats": "two"})).unwrap_err();
        assert_eq!(
            errors,
            ["userId: is required", "movieId: is required", "seats: must be an integer between 1 and 10"]
        );
    }

    #[test]
    fn accepts_ids_as_strings_or_numbers() {
        let ok = order(&serde_json::json!({"userId": "1", "movieId": 2, "seats": 10})).unwrap();
        assert_eq!((ok.user_id, ok.movie_id, ok.seats.get()), (Id(1), Id(2), 10));
    }

    #[test]
    fn seat_count_is_one_to_ten() {
        assert!(SeatCount::parse(0).is_err());
        assert_eq!(SeatCount::parse(10).unwrap().get(), 10);
        assert!(SeatCount::parse(11).is_err());
        assert!(SeatCount::parse(-3).is_err());
    }
}
