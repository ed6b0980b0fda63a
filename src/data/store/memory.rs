//! The in-process store: for `--role all` on a laptop, and as the reference the
//! Redis store is tested against.

use std::collections::HashMap;

use parking_lot::{Mutex, MutexGuard};

use crate::data::clock;
use crate::data::domain::{Booking, Id, Movie, NewBooking, NewMovie, NewUser, Page, PageRequest, User};

use super::{Encoded, StoreError, StoreResult};

/// Rows by id plus their insertion order, so a page is a slice: O(page), not O(table).
struct Table<T> {
    rows: HashMap<Id, T>,
    /// Ids in insertion order; ids only grow, so it stays sorted.
    order: Vec<Id>,
    last_id: u64,
}

impl<T: Clone> Table<T> {
    fn next_id(&mut self, wanted: Option<Id>) -> Id {
        let id = wanted.unwrap_or(Id(self.last_id + 1));
        self.last_id = self.last_id.max(id.0);
        id
    }

    fn insert(&mut self, id: Id, row: T) {
        if self.rows.insert(id, row).is_none() {
            let at = self.order.partition_point(|x| *x < id);
            self.order.insert(at, id);
        }
    }

    fn remove(&mut self, id: Id) -> Option<T> {
        let row = self.rows.remove(&id)?;
        if let Ok(at) = self.order.binary_search(&id) {
            self.order.remove(at);
        }
        Some(row)
    }

    fn page(&self, page: PageRequest) -> Page<T> {
        self.page_of(&self.order, page)
    }

    /// A page of `ids` (a sorted subset of this table's ids, such as one user's bookings).
    fn page_of(&self, ids: &[Id], page: PageRequest) -> Page<T> {
        let start = page.offset.min(ids.len());
        let end = start.saturating_add(page.limit).min(ids.len());
        let items = ids[start..end].iter().filter_map(|id| self.rows.get(id).cloned()).collect();
        Page { items, total: ids.len() as u64 }
    }
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table { rows: HashMap::new(), order: Vec::new(), last_id: 0 }
    }
}

#[derive(Default)]
struct Tables {
    seeded: bool,
    users: Table<User>,
    user_by_email: HashMap<String, Id>,
    movies: Table<Movie>,
    bookings: Table<Booking>,
    /// Each user's booking ids, in booking order.
    bookings_by_user: HashMap<Id, Vec<Id>>,
}

/// All data behind one mutex: every operation is short and never awaits while holding it.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

// Each operation answers like `RedisStore`'s (a `Result`, `&self`), so `Store` dispatches both alike.
#[expect(clippy::unnecessary_wraps, clippy::unused_self, reason = "the same signatures as RedisStore's")]
impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        // parking_lot's lock is not poisoned by a panic elsewhere; none can leave the
        // tables half-written anyway (each write is one step after its checks).
        self.tables.lock()
    }

    pub(crate) fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    pub(crate) fn needs_seed(&self) -> StoreResult<bool> {
        Ok(!self.lock().seeded)
    }

    pub(crate) fn mark_seeded(&self) -> StoreResult<()> {
        self.lock().seeded = true;
        Ok(())
    }

    pub(crate) fn create_user(&self, id: Option<Id>, user: &NewUser) -> StoreResult<User> {
        let mut t = self.lock();
        if let Some(existing) = id.and_then(|id| t.users.rows.get(&id)) {
            return Ok(existing.clone());
        }
        if t.user_by_email.contains_key(user.email.as_str()) {
            return Err(StoreError::EmailTaken);
        }
        let id = t.users.next_id(id);
        let row = User::stored(id, user, clock::now_rfc3339());
        t.user_by_email.insert(row.email.clone(), id);
        t.users.insert(id, row.clone());
        Ok(row)
    }

    pub(crate) fn get_user(&self, id: Id) -> StoreResult<Option<Encoded<User>>> {
        self.lock().users.rows.get(&id).map(Encoded::encode).transpose()
    }

    pub(crate) fn delete_user(&self, id: Id) -> StoreResult<bool> {
        let mut t = self.lock();
        let Some(user) = t.users.remove(id) else { return Ok(false) };
        t.user_by_email.remove(&user.email);
        Ok(true)
    }

    pub(crate) fn list_users(&self, page: PageRequest) -> StoreResult<Page<Encoded<User>>> {
        self.lock().users.page(page).encoded()
    }

    pub(crate) fn create_movie(&self, id: Option<Id>, movie: &NewMovie) -> StoreResult<Movie> {
        let mut t = self.lock();
        if let Some(existing) = id.and_then(|id| t.movies.rows.get(&id)) {
            return Ok(existing.clone());
        }
        let id = t.movies.next_id(id);
        let row = Movie::stored(id, movie, clock::now_rfc3339());
        t.movies.insert(id, row.clone());
        Ok(row)
    }

    pub(crate) fn get_movie(&self, id: Id) -> StoreResult<Option<Movie>> {
        Ok(self.lock().movies.rows.get(&id).cloned())
    }

    pub(crate) fn delete_movie(&self, id: Id) -> StoreResult<bool> {
        Ok(self.lock().movies.remove(id).is_some())
    }

    pub(crate) fn list_movies(&self, page: PageRequest) -> StoreResult<Page<Movie>> {
        Ok(self.lock().movies.page(page))
    }

    pub(crate) fn create_booking(&self, new: NewBooking) -> StoreResult<Booking> {
        let mut t = self.lock();
        let seats = new.order.seats.get();
        let movie = t.movies.rows.get_mut(&new.order.movie_id).ok_or(StoreError::MovieNotFound)?;
        if movie.available_seats < seats {
            return Err(StoreError::NotEnoughSeats { available: movie.available_seats });
        }
        movie.available_seats -= seats;
        let id = t.bookings.next_id(None);
        let row = Booking::stored(id, new, clock::now_rfc3339());
        t.bookings.insert(id, row.clone());
        t.bookings_by_user.entry(row.user_id).or_default().push(id);
        Ok(row)
    }

    pub(crate) fn get_booking(&self, id: Id) -> StoreResult<Option<Booking>> {
        Ok(self.lock().bookings.rows.get(&id).cloned())
    }

    pub(crate) fn cancel_booking(&self, id: Id) -> StoreResult<bool> {
        let mut t = self.lock();
        let Some(booking) = t.bookings.remove(id) else { return Ok(false) };
        if let Some(ids) = t.bookings_by_user.get_mut(&booking.user_id) {
            ids.retain(|b| *b != id);
        }
        if let Some(movie) = t.movies.rows.get_mut(&booking.movie_id) {
            movie.available_seats = (movie.available_seats + booking.seats).min(movie.seats);
        }
        Ok(true)
    }

    pub(crate) fn list_bookings(&self, user: Option<Id>, page: PageRequest) -> StoreResult<Page<Encoded<Booking>>> {
        let t = self.lock();
        match user {
            None => t.bookings.page(page),
            Some(user) => t.bookings.page_of(t.bookings_by_user.get(&user).map_or(&[], Vec::as_slice), page),
        }
        .encoded()
    }
}
