//! The body of `POST /users/` and its conversion into a [`NewUser`].

use serde::Deserialize;

use crate::data::domain::NewUser;
use crate::http::problem::Problem;

/// `POST /users/` as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUserRequest {
    /// 1-100 characters after trimming.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", examples("유관순"))]
    name: String,
    /// Unique, ignoring case. The pattern is what the check accepts, except two rules a
    /// pattern without look-ahead cannot state: surrounding spaces are trimmed, and the
    /// part before '@' is at most 64 characters.
    #[schema(
        max_length = 254,
        pattern = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$",
        examples("gwan@example.com")
    )]
    email: String,
}

impl TryFrom<CreateUserRequest> for NewUser {
    type Error = Problem;

    fn try_from(req: CreateUserRequest) -> Result<Self, Problem> {
        NewUser::parse(&req.name, &req.email).map_err(Problem::invalid)
    }
}
