//! Where users, movies and bookings live: Redis in a cluster, memory on a laptop.
//!
//! Both implementations keep the same rules — unique emails, atomic seat reservation,
//! ids from a counter, lists read from an insertion-ordered index one page at a time —
//! and the integration tests run the same cases against each.
//!
//! # Layers, lowest first
//!
//! 1. `memory`, `redis`: the two implementations, neither reaching the other.

mod memory;
mod redis;

use std::sync::Arc;

use crate::data::domain::{
    Booking, Id, Movie, NewBooking, NewMovie, NewUser, Page, PageRequest, User, seed_movies, seed_users,
};
use crate::settings::config::StoreSettings;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

/// A failed store operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store did not answer (down, unreachable, timed out): an outage.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The store answered, but with something this code cannot use (a record that does
    /// not serialize, a script reply it does not know): a bug, not an outage.
    #[error("store bug: {0}")]
    Bug(String),
    /// Another user has this email.
    #[error("a user with this email already exists")]
    EmailTaken,
    /// The movie of a booking does not exist (any more).
    #[error("no such movie")]
    MovieNotFound,
    /// Fewer seats are left than asked for.
    #[error("not enough seats left: {available} available")]
    NotEnoughSeats { available: u32 },
}

/// The store could not be set up (a bad Redis configuration; an unreachable Redis is
/// not this: the store then starts unready and keeps reconnecting).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the Redis client: {0}")]
pub struct OpenError(#[from] pub fred::error::Error);

pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// A record already encoded as the JSON the API returns. A list page carries these
/// straight from the store into the response: parsing a hundred users into fields and
/// writing them out again was three quarters of a page's cost. Only checked to be a
/// well-formed JSON object; the store writes rows from domain types alone.
pub(crate) struct Encoded<T> {
    json: Box<serde_json::value::RawValue>,
    of: std::marker::PhantomData<fn() -> T>,
}

impl<T: serde::Serialize> Encoded<T> {
    pub(crate) fn encode(record: &T) -> StoreResult<Encoded<T>> {
        let json = serde_json::value::to_raw_value(record).map_err(|e| StoreError::Bug(e.to_string()))?;
        Ok(Encoded { json, of: std::marker::PhantomData })
    }
}

impl<T: serde::Serialize> Page<T> {
    /// The same page with each record encoded (the in-process store's rows are structs).
    pub(crate) fn encoded(self) -> StoreResult<Page<Encoded<T>>> {
        let items = self.items.iter().map(Encoded::encode).collect::<StoreResult<_>>()?;
        Ok(Page { items, total: self.total })
    }
}

impl<T> Encoded<T> {
    /// A stored row; one that is not a JSON object is logged and left out.
    pub(crate) fn from_stored(row: String) -> Option<Encoded<T>> {
        if !row.starts_with('{') {
            tracing::warn!(row = row.get(..40).unwrap_or(&row), "a stored row is not a JSON object");
            return None;
        }
        match serde_json::value::RawValue::from_string(row) {
            Ok(json) => Some(Encoded { json, of: std::marker::PhantomData }),
            Err(e) => {
                tracing::warn!(%e, "unreadable record in the store");
                None
            }
        }
    }
}

impl<T> serde::Serialize for Encoded<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl<T> std::fmt::Debug for Encoded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.json.get())
    }
}

/// The store a role uses; cheap to clone (shared state behind).
#[derive(Clone)]
pub enum Store {
    Memory(Arc<MemoryStore>),
    Redis(RedisStore),
}

macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Memory(s) => s.$method($($arg),*),
            Store::Redis(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Opens the configured store. Redis connects in the background with retries, so a
    /// role starts (unready) even while Redis is still coming up.
    pub(crate) fn open(settings: &StoreSettings) -> Result<Store, OpenError> {
        match &settings.redis {
            None => Ok(Store::Memory(Arc::new(MemoryStore::default()))),
            Some(config) => RedisStore::connect(config.clone(), settings).map(Store::Redis),
        }
    }

    /// The store for one worker thread: the in-process store is shared, while Redis gets
    /// a client whose connections run on the calling thread.
    pub(crate) fn for_this_thread(&self) -> Result<Store, OpenError> {
        match self {
            Store::Memory(store) => Ok(Store::Memory(store.clone())),
            Store::Redis(store) => store.for_this_thread().map(Store::Redis),
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    /// Answers when the store can serve requests (for `/readyz`).
    pub(crate) async fn ping(&self) -> StoreResult<()> {
        delegate!(self.ping())
    }

    /// Creates the sample users and movies unless this store was seeded before.
    /// Idempotent and safe when several pods start at once.
    pub async fn seed(&self) -> StoreResult<()> {
        if !self.needs_seed().await? {
            return Ok(());
        }
        for (id, user) in seed_users() {
            match self.create_user_with_id(Some(id), &user).await {
                Ok(_) | Err(StoreError::EmailTaken) => {}
                Err(e) => return Err(e),
            }
        }
        for (id, movie) in seed_movies() {
            self.create_movie_with_id(Some(id), &movie).await?;
        }
        self.mark_seeded().await
    }

    async fn needs_seed(&self) -> StoreResult<bool> {
        delegate!(self.needs_seed())
    }

    async fn mark_seeded(&self) -> StoreResult<()> {
        delegate!(self.mark_seeded())
    }

    pub(crate) async fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        self.create_user_with_id(None, user).await
    }

    async fn create_user_with_id(&self, id: Option<Id>, user: &NewUser) -> StoreResult<User> {
        delegate!(self.create_user(id, user))
    }

    pub(crate) async fn get_user(&self, id: Id) -> StoreResult<Option<Encoded<User>>> {
        delegate!(self.get_user(id))
    }

    pub(crate) async fn delete_user(&self, id: Id) -> StoreResult<bool> {
        delegate!(self.delete_user(id))
    }

    pub(crate) async fn list_users(&self, page: PageRequest) -> StoreResult<Page<Encoded<User>>> {
        delegate!(self.list_users(page))
    }

    pub(crate) async fn create_movie(&self, movie: &NewMovie) -> StoreResult<Movie> {
        self.create_movie_with_id(None, movie).await
    }

    async fn create_movie_with_id(&self, id: Option<Id>, movie: &NewMovie) -> StoreResult<Movie> {
        delegate!(self.create_movie(id, movie))
    }

    pub(crate) async fn get_movie(&self, id: Id) -> StoreResult<Option<Movie>> {
        delegate!(self.get_movie(id))
    }

    pub(crate) async fn delete_movie(&self, id: Id) -> StoreResult<bool> {
        delegate!(self.delete_movie(id))
    }

    pub(crate) async fn list_movies(&self, page: PageRequest) -> StoreResult<Page<Movie>> {
        delegate!(self.list_movies(page))
    }

    /// Reserves the seats and records the booking in one atomic step.
    pub(crate) async fn create_booking(&self, booking: NewBooking) -> StoreResult<Booking> {
        delegate!(self.create_booking(booking))
    }

    pub(crate) async fn get_booking(&self, id: Id) -> StoreResult<Option<Booking>> {
        delegate!(self.get_booking(id))
    }

    /// Deletes the booking and returns its seats to the movie (if the movie still exists).
    pub(crate) async fn cancel_booking(&self, id: Id) -> StoreResult<bool> {
        delegate!(self.cancel_booking(id))
    }

    pub(crate) async fn list_bookings(&self, page: PageRequest) -> StoreResult<Page<Encoded<Booking>>> {
        delegate!(self.list_bookings(None, page))
    }

    pub(crate) async fn list_user_bookings(&self, user: Id, page: PageRequest) -> StoreResult<Page<Encoded<Booking>>> {
        delegate!(self.list_bookings(Some(user), page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_records_pass_through_unchanged_and_bad_rows_are_left_out() {
        let row = r#"{"id":"7","name":"홍길동","email":"h@example.com","createdAt":"2026-11-25T00:00:00Z"}"#;
        let user = Encoded::<User>::from_stored(row.to_owned()).expect("a JSON object");
        assert_eq!(serde_json::to_string(&vec![&user]).unwrap(), format!("[{row}]"));
        assert!(Encoded::<User>::from_stored("{\"id\":".to_owned()).is_none(), "cut short");
        assert!(Encoded::<User>::from_stored("[1]".to_owned()).is_none(), "not an object");
        assert!(Encoded::<User>::from_stored(String::new()).is_none(), "a vanished row");
    }
}
