//! Bookings: the request body, the validated form, and the stored record.

use serde::{Deserialize, Serialize};

use crate::identity::ServedBy;
use crate::problem::{FieldError, Problem};
use crate::request::Id;

/// `POST /bookings/` as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBookingRequest {
    pub user_id: Id,
    pub movie_id: Id,
    #[schema(minimum = 1, maximum = 10)]
    pub seats: i64,
}

/// Seats in one booking: 1-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatCount(u32);

impl SeatCount {
    pub const MAX: u32 = 10;

    pub fn parse(raw: i64) -> Result<Self, FieldError> {
        if (1..=i64::from(Self::MAX)).contains(&raw) {
            Ok(SeatCount(raw as u32))
        } else {
            Err(FieldError::new("seats", format!("must be between 1 and {}", Self::MAX)))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A validated booking request, before its user and movie are checked.
#[derive(Debug, Clone, Copy)]
pub struct BookingOrder {
    pub user_id: Id,
    pub movie_id: Id,
    pub seats: SeatCount,
}

impl TryFrom<CreateBookingRequest> for BookingOrder {
    type Error = Problem;

    fn try_from(req: CreateBookingRequest) -> Result<Self, Problem> {
        let seats = SeatCount::parse(req.seats).map_err(|e| Problem::invalid(vec![e]))?;
        Ok(BookingOrder { user_id: req.user_id, movie_id: req.movie_id, seats })
    }
}

/// Which pod answered each step of a booking: how the class sees cross-cluster calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Route {
    /// The user-service pod that confirmed the user (null if it sent no identity headers).
    pub user: Option<ServedBy>,
    /// The movie-service pod that confirmed the movie.
    pub movie: Option<ServedBy>,
    /// The booking-service pod that reserved the seats.
    pub booking: ServedBy,
}

/// A booking whose user and movie were confirmed, ready to reserve seats for.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub order: BookingOrder,
    pub route: Route,
}

/// A stored booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    pub id: Id,
    pub user_id: Id,
    pub movie_id: Id,
    pub seats: u32,
    pub created_at: String,
    pub route: Route,
}

impl Booking {
    /// The record a store keeps for `new` once its seats are reserved.
    pub fn stored(id: Id, new: &NewBooking, created_at: String) -> Booking {
        Booking {
            id,
            user_id: new.order.user_id,
            movie_id: new.order.movie_id,
            seats: new.order.seats.get(),
            created_at,
            route: new.route.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_count_is_one_to_ten() {
        assert!(SeatCount::parse(0).is_err());
        assert_eq!(SeatCount::parse(10).unwrap().get(), 10);
        assert!(SeatCount::parse(11).is_err());
        assert!(SeatCount::parse(-3).is_err());
    }
}
