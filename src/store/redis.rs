//! The Redis store (fred): what the app uses in a cluster.
//!
//! Layout, with `p` the key prefix (`--redis-key-prefix`):
//! - `p:user:{id}` hash (name, email, createdAt); `p:user-email:{email}` → id;
//!   `p:users` sorted set of ids (score = id) as the list index; `p:users:seq` counter.
//! - `p:movie:{id}` hash (…, seats, availableSeats); `p:movies`; `p:movies:seq`.
//! - `p:booking:{id}` hash (…, route as JSON); `p:bookings`; `p:bookings:seq`;
//!   `p:user:{id}:bookings` sorted set of one user's booking ids.
//! - `p:seeded` marks a store that has had its sample data.
//!
//! Lists read a rank range of an index (ZRANGE) and then the page's hashes in one
//! pipeline: O(log n + page), never KEYS or SCAN. Every multi-key write is one Lua
//! script, so a reservation, a cancellation or a unique email cannot half-happen.

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::*;
use fred::types::config::{Config as RedisConfig, ReconnectPolicy};
use fred::types::scripts::Script;

use crate::booking::domain::{Booking, NewBooking, Route};
use crate::clock;
use crate::config::StoreSettings;
use crate::movie::domain::{Movie, NewMovie};
use crate::request::{Id, PageRequest};
use crate::user::domain::{NewUser, User};

use super::{Page, StoreError, StoreResult};

/// Builds every key from the prefix, so the layout above is written down once.
#[derive(Clone)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn seeded(&self) -> String {
        format!("{}:seeded", self.prefix)
    }
    fn index(&self, table: &str) -> String {
        format!("{}:{table}", self.prefix)
    }
    fn seq(&self, table: &str) -> String {
        format!("{}:{table}:seq", self.prefix)
    }
    /// `p:user:` — the row key without its id, for scripts that build keys from ids.
    fn row_prefix(&self, entity: &str) -> String {
        format!("{}:{entity}:", self.prefix)
    }
    fn row(&self, entity: &str, id: Id) -> String {
        format!("{}:{entity}:{id}", self.prefix)
    }
    fn email(&self, email: &str) -> String {
        format!("{}:user-email:{email}", self.prefix)
    }
    fn user_bookings(&self, user: Id) -> String {
        format!("{}:user:{user}:bookings", self.prefix)
    }
}

/// Creates a user unless the wanted id exists or the email is taken.
/// KEYS: id counter, index, email key. ARGV: row prefix, wanted id or '', name, email, createdAt.
const CREATE_USER: &str = r"
local id = ARGV[2]
if id ~= '' and redis.call('EXISTS', ARGV[1] .. id) == 1 then return {'exists', id} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'email-taken', ''} end
if id == '' then
  id = tostring(redis.call('INCR', KEYS[1]))
elseif tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(id) then
  redis.call('SET', KEYS[1], id)
end
redis.call('HSET', ARGV[1] .. id, 'name', ARGV[3], 'email', ARGV[4], 'createdAt', ARGV[5])
redis.call('SET', KEYS[3], id)
redis.call('ZADD', KEYS[2], id, id)
return {'created', id}
";

/// KEYS: id counter, index. ARGV: row prefix, wanted id or '', title, genre, year,
/// director ('' for none), seats, createdAt.
const CREATE_MOVIE: &str = r"
local id = ARGV[2]
if id ~= '' and redis.call('EXISTS', ARGV[1] .. id) == 1 then return {'exists', id} end
if id == '' then
  id = tostring(redis.call('INCR', KEYS[1]))
elseif tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(id) then
  redis.call('SET', KEYS[1], id)
end
local key = ARGV[1] .. id
redis.call('HSET', key, 'title', ARGV[3], 'genre', ARGV[4], 'year', ARGV[5], 'seats', ARGV[7],
  'availableSeats', ARGV[7], 'createdAt', ARGV[8])
if ARGV[6] ~= '' then redis.call('HSET', key, 'director', ARGV[6]) end
redis.call('ZADD', KEYS[2], id, id)
return {'created', id}
";

/// Reserves seats and records the booking, or changes nothing.
/// KEYS: movie, booking counter, bookings index, the user's bookings index.
/// ARGV: booking row prefix, userId, movieId, seats, createdAt, route JSON.
const CREATE_BOOKING: &str = r"
local available = redis.call('HGET', KEYS[1], 'availableSeats')
if not available then return {'movie-missing', ''} end
local wanted = tonumber(ARGV[4])
if tonumber(available) < wanted then return {'not-enough', available} end
redis.call('HINCRBY', KEYS[1], 'availableSeats', -wanted)
local id = tostring(redis.call('INCR', KEYS[2]))
redis.call('HSET', ARGV[1] .. id, 'userId', ARGV[2], 'movieId', ARGV[3], 'seats', ARGV[4],
  'createdAt', ARGV[5], 'route', ARGV[6])
redis.call('ZADD', KEYS[3], id, id)
redis.call('ZADD', KEYS[4], id, id)
return {'created', id}
";

/// Deletes a booking and gives its seats back (never above the hall's capacity).
/// KEYS: booking, bookings index. ARGV: movie row prefix, user row prefix, booking id.
const CANCEL_BOOKING: &str = r"
local b = redis.call('HMGET', KEYS[1], 'userId', 'movieId', 'seats')
if not b[1] then return 0 end
local movie = ARGV[1] .. b[2]
local capacity = redis.call('HGET', movie, 'seats')
if capacity then
  local available = tonumber(redis.call('HGET', movie, 'availableSeats')) + tonumber(b[3])
  redis.call('HSET', movie, 'availableSeats', math.min(tonumber(capacity), available))
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', ARGV[2] .. b[1] .. ':bookings', ARGV[3])
return 1
";

/// KEYS: user, users index. ARGV: email key prefix, user id.
const DELETE_USER: &str = r"
local email = redis.call('HGET', KEYS[1], 'email')
if not email then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', ARGV[1] .. email) == ARGV[2] then redis.call('DEL', ARGV[1] .. email) end
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
";

/// KEYS: movie, movies index. ARGV: movie id.
const DELETE_MOVIE: &str = r"
local deleted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return deleted
";

struct Scripts {
    create_user: Script,
    create_movie: Script,
    create_booking: Script,
    cancel_booking: Script,
    delete_user: Script,
    delete_movie: Script,
}

/// A pooled, self-reconnecting Redis client with the app's scripts.
#[derive(Clone)]
pub struct RedisStore {
    pool: Pool,
    keys: Keys,
    scripts: std::sync::Arc<Scripts>,
}

fn unavailable(err: fred::error::Error) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

type Row = HashMap<String, String>;

impl RedisStore {
    /// Builds the pool and starts connecting in the background; never waits for Redis.
    pub fn connect(mut config: RedisConfig, settings: &StoreSettings) -> Result<RedisStore, String> {
        // Keep retrying the first connection too: in a cluster Redis may start after us.
        config.fail_fast = false;
        let timeout = settings.timeout;
        let pool = Builder::from_config(config)
            .with_performance_config(|perf| perf.default_command_timeout = timeout)
            .with_connection_config(|conn| {
                conn.connection_timeout = timeout.max(Duration::from_millis(500));
                conn.internal_command_timeout = timeout.max(Duration::from_millis(500));
                // A command whose connection died may have run already: replaying it could
                // book twice. Fail it (the client sees 503 and may retry) instead.
                conn.max_command_attempts = 1;
                // A paused Redis keeps its sockets open; treat silence as a dead link.
                conn.unresponsive.max_timeout = Some(timeout * 2);
                conn.unresponsive.interval = Duration::from_millis(250);
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_pool(settings.pool_size)
            .map_err(|e| format!("cannot build the Redis client: {e}"))?;
        let _connection_task = pool.connect();
        for client in pool.clients() {
            let _errors = client.on_error(|(error, server)| async move {
                let server = server.map(|s| s.to_string()).unwrap_or_default();
                tracing::warn!(%error, %server, "redis connection error; reconnecting");
                Ok(())
            });
            let _reconnects = client.on_reconnect(|server| async move {
                tracing::info!(%server, "redis connected");
                Ok(())
            });
        }
        Ok(RedisStore {
            pool,
            keys: Keys { prefix: settings.key_prefix.clone() },
            scripts: std::sync::Arc::new(Scripts {
                create_user: Script::from_lua(CREATE_USER),
                create_movie: Script::from_lua(CREATE_MOVIE),
                create_booking: Script::from_lua(CREATE_BOOKING),
                cancel_booking: Script::from_lua(CANCEL_BOOKING),
                delete_user: Script::from_lua(DELETE_USER),
                delete_movie: Script::from_lua(DELETE_MOVIE),
            }),
        })
    }

    /// EVALSHA, loading the script first if Redis does not know it (new or restarted).
    async fn run<R: FromValue>(&self, script: &Script, keys: Vec<String>, args: Vec<String>) -> StoreResult<R> {
        let client = self.pool.next_connected();
        script.evalsha_with_reload(client, keys, args).await.map_err(unavailable)
    }

    pub async fn ping(&self) -> StoreResult<()> {
        self.pool.ping::<String>(None).await.map(drop).map_err(unavailable)
    }

    pub async fn needs_seed(&self) -> StoreResult<bool> {
        let seeded: bool = self.pool.exists(self.keys.seeded()).await.map_err(unavailable)?;
        Ok(!seeded)
    }

    pub async fn mark_seeded(&self) -> StoreResult<()> {
        self.pool
            .set::<(), _, _>(self.keys.seeded(), clock::now_rfc3339(), None, None, false)
            .await
            .map_err(unavailable)
    }

    /// Reads a page of an index and then the page's rows in one pipeline.
    async fn page<T>(
        &self,
        index: String,
        entity: &str,
        page: PageRequest,
        parse: fn(Id, Row) -> Option<T>,
    ) -> StoreResult<Page<T>> {
        let client = self.pool.next_connected();
        let ranks = client.pipeline();
        let stop = page.offset.saturating_add(page.limit) as i64 - 1;
        let _: () = ranks.zcard(&index).await.map_err(unavailable)?;
        let _: () =
            ranks.zrange(&index, page.offset as i64, stop, None, false, None, false).await.map_err(unavailable)?;
        let (total, ids): (u64, Vec<String>) = ranks.all().await.map_err(unavailable)?;
        let ids: Vec<Id> = ids.iter().filter_map(|id| Id::parse(id)).collect();
        if ids.is_empty() {
            return Ok(Page { items: Vec::new(), total });
        }
        let rows = client.pipeline();
        for id in &ids {
            let _: () = rows.hgetall(self.keys.row(entity, *id)).await.map_err(unavailable)?;
        }
        let mut items = Vec::with_capacity(ids.len());
        for (id, row) in ids.into_iter().zip(rows.try_all::<Row>().await) {
            // A row deleted between the two reads is simply left out of the page.
            if let Some(item) = parse(id, row.map_err(unavailable)?) {
                items.push(item);
            }
        }
        Ok(Page { items, total })
    }

    async fn row<T>(&self, entity: &str, id: Id, parse: fn(Id, Row) -> Option<T>) -> StoreResult<Option<T>> {
        let row: Row = self.pool.hgetall(self.keys.row(entity, id)).await.map_err(unavailable)?;
        Ok(parse(id, row))
    }

    pub async fn create_user(&self, id: Option<Id>, user: &NewUser) -> StoreResult<User> {
        let created_at = clock::now_rfc3339();
        let keys = vec![self.keys.seq("users"), self.keys.index("users"), self.keys.email(user.email.as_str())];
        let args = vec![
            self.keys.row_prefix("user"),
            id.map(|i| i.to_string()).unwrap_or_default(),
            user.name.as_str().to_owned(),
            user.email.as_str().to_owned(),
            created_at.clone(),
        ];
        let (status, new_id): (String, String) = self.run(&self.scripts.create_user, keys, args).await?;
        let new_id = Id::parse(&new_id);
        match (status.as_str(), new_id) {
            ("created", Some(id)) => Ok(User::stored(id, user, created_at)),
            ("exists", Some(id)) => self.get_user(id).await?.ok_or(StoreError::Unavailable("user vanished".into())),
            ("email-taken", _) => Err(StoreError::EmailTaken),
            _ => Err(StoreError::Unavailable(format!("unexpected script reply {status}"))),
        }
    }

    pub async fn get_user(&self, id: Id) -> StoreResult<Option<User>> {
        self.row("user", id, parse_user).await
    }

    pub async fn delete_user(&self, id: Id) -> StoreResult<bool> {
        let keys = vec![self.keys.row("user", id), self.keys.index("users")];
        let args = vec![self.keys.email(""), id.to_string()];
        self.run::<i64>(&self.scripts.delete_user, keys, args).await.map(|n| n == 1)
    }

    pub async fn list_users(&self, page: PageRequest) -> StoreResult<Page<User>> {
        self.page(self.keys.index("users"), "user", page, parse_user).await
    }

    pub async fn create_movie(&self, id: Option<Id>, movie: &NewMovie) -> StoreResult<Movie> {
        let created_at = clock::now_rfc3339();
        let keys = vec![self.keys.seq("movies"), self.keys.index("movies")];
        let args = vec![
            self.keys.row_prefix("movie"),
            id.map(|i| i.to_string()).unwrap_or_default(),
            movie.title.clone(),
            movie.genre.clone(),
            movie.year.to_string(),
            movie.director.clone().unwrap_or_default(),
            movie.seats.to_string(),
            created_at.clone(),
        ];
        let (status, new_id): (String, String) = self.run(&self.scripts.create_movie, keys, args).await?;
        match (status.as_str(), Id::parse(&new_id)) {
            ("created", Some(id)) => Ok(Movie::stored(id, movie, created_at)),
            ("exists", Some(id)) => self.get_movie(id).await?.ok_or(StoreError::Unavailable("movie vanished".into())),
            _ => Err(StoreError::Unavailable(format!("unexpected script reply {status}"))),
        }
    }

    pub async fn get_movie(&self, id: Id) -> StoreResult<Option<Movie>> {
        self.row("movie", id, parse_movie).await
    }

    pub async fn delete_movie(&self, id: Id) -> StoreResult<bool> {
        let keys = vec![self.keys.row("movie", id), self.keys.index("movies")];
        self.run::<i64>(&self.scripts.delete_movie, keys, vec![id.to_string()]).await.map(|n| n == 1)
    }

    pub async fn list_movies(&self, page: PageRequest) -> StoreResult<Page<Movie>> {
        self.page(self.keys.index("movies"), "movie", page, parse_movie).await
    }

    pub async fn create_booking(&self, new: &NewBooking) -> StoreResult<Booking> {
        let created_at = clock::now_rfc3339();
        let order = new.order;
        let route = serde_json::to_string(&new.route).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let keys = vec![
            self.keys.row("movie", order.movie_id),
            self.keys.seq("bookings"),
            self.keys.index("bookings"),
            self.keys.user_bookings(order.user_id),
        ];
        let args = vec![
            self.keys.row_prefix("booking"),
            order.user_id.to_string(),
            order.movie_id.to_string(),
            order.seats.get().to_string(),
            created_at.clone(),
            route,
        ];
        let (status, value): (String, String) = self.run(&self.scripts.create_booking, keys, args).await?;
        match (status.as_str(), Id::parse(&value)) {
            ("created", Some(id)) => Ok(Booking::stored(id, new, created_at)),
            ("movie-missing", _) => Err(StoreError::MovieNotFound),
            ("not-enough", _) => Err(StoreError::NotEnoughSeats { available: value.parse().unwrap_or(0) }),
            _ => Err(StoreError::Unavailable(format!("unexpected script reply {status}"))),
        }
    }

    pub async fn get_booking(&self, id: Id) -> StoreResult<Option<Booking>> {
        self.row("booking", id, parse_booking).await
    }

    pub async fn cancel_booking(&self, id: Id) -> StoreResult<bool> {
        let keys = vec![self.keys.row("booking", id), self.keys.index("bookings")];
        let args = vec![self.keys.row_prefix("movie"), self.keys.row_prefix("user"), id.to_string()];
        self.run::<i64>(&self.scripts.cancel_booking, keys, args).await.map(|n| n == 1)
    }

    pub async fn list_bookings(&self, user: Option<Id>, page: PageRequest) -> StoreResult<Page<Booking>> {
        let index = match user {
            Some(user) => self.keys.user_bookings(user),
            None => self.keys.index("bookings"),
        };
        self.page(index, "booking", page, parse_booking).await
    }
}

/// Takes a field out of a row; a missing one means the row is gone (or not ours).
fn take(row: &mut Row, field: &str) -> Option<String> {
    row.remove(field)
}

fn parse_user(id: Id, mut row: Row) -> Option<User> {
    Some(User {
        id,
        name: take(&mut row, "name")?,
        email: take(&mut row, "email")?,
        created_at: take(&mut row, "createdAt")?,
    })
}

fn parse_movie(id: Id, mut row: Row) -> Option<Movie> {
    Some(Movie {
        id,
        title: take(&mut row, "title")?,
        genre: take(&mut row, "genre")?,
        year: take(&mut row, "year")?.parse().ok()?,
        director: take(&mut row, "director"),
        seats: take(&mut row, "seats")?.parse().ok()?,
        available_seats: take(&mut row, "availableSeats")?.parse().ok()?,
        created_at: take(&mut row, "createdAt")?,
    })
}

fn parse_booking(id: Id, mut row: Row) -> Option<Booking> {
    let route: Route = serde_json::from_str(&take(&mut row, "route")?).ok()?;
    Some(Booking {
        id,
        user_id: Id::parse(&take(&mut row, "userId")?)?,
        movie_id: Id::parse(&take(&mut row, "movieId")?)?,
        seats: take(&mut row, "seats")?.parse().ok()?,
        created_at: take(&mut row, "createdAt")?,
        route,
    })
}
