//! The Redis store (fred): what the app uses in a cluster.
//!
//! Layout, with `p` the key prefix (`--redis-key-prefix`); records are JSON strings, so
//! `redis-cli GET p:user:1` shows exactly what the API returns:
//! - `p:user:{id}` the user; `p:user-email:{email}` → id (uniqueness);
//!   `p:users` sorted set of ids (score = id) as the list index; `p:users:seq` counter.
//! - `p:movie:{id}` the movie; `p:movie:{id}:seats-left` the live seat count;
//!   `p:movies`; `p:movies:seq`.
//! - `p:booking:{id}` the booking (with its route); `p:bookings`; `p:bookings:seq`;
//!   `p:user:{id}:bookings` sorted set of one user's booking ids.
//! - `p:seeded` marks a store that has had its sample data.
//!
//! A list page is one round trip: ZCARD and `SORT_RO index BY nosort LIMIT offset
//! count GET p:user:*`, pipelined. On a sorted set, SORT without sorting walks just the
//! page in index order and fetches each row, O(log n + page) — never KEYS or SCAN, and
//! about twice as fast as the same walk in a Lua script (redis-benchmark, 100 rows).
//! Every multi-key write is one Lua script, so a reservation, a cancellation or a unique email cannot
//! half-happen. Scripts build row keys from ids they read, which is fine on the single
//! Redis this app uses (it would not be on Redis Cluster).

use std::time::Duration;

use fred::prelude::*;
use fred::types::config::{Config as RedisConfig, ReconnectPolicy};
use fred::types::scripts::Script;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::data::clock;
use crate::data::domain::{Booking, Id, Movie, NewBooking, NewMovie, NewUser, Page, PageRequest, User};
use crate::settings::config::StoreSettings;

use super::{Encoded, OpenError, StoreError, StoreResult};

/// Builds every key from the prefix, so the layout above is written down once; the
/// scripts get the prefixes and suffixes they join ids to as arguments from here.
#[derive(Clone)]
struct Keys {
    prefix: String,
}

/// Suffix of a movie's seat counter, after its row key.
const SEATS_LEFT: &str = ":seats-left";
/// Suffix of a user's booking index, after the user's row key.
const USER_BOOKINGS: &str = ":bookings";

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
    /// `p:user:*` — SORT's pattern for the rows of an index's ids.
    fn row_pattern(&self, entity: &str) -> String {
        format!("{}:{entity}:*", self.prefix)
    }
    fn row(&self, entity: &str, id: Id) -> String {
        format!("{}:{entity}:{id}", self.prefix)
    }
    fn seats_left(&self, movie: Id) -> String {
        format!("{}{SEATS_LEFT}", self.row("movie", movie))
    }
    fn email(&self, email: &str) -> String {
        format!("{}:user-email:{email}", self.prefix)
    }
    fn user_bookings(&self, user: Id) -> String {
        format!("{}{USER_BOOKINGS}", self.row("user", user))
    }
}

/// Creates a user or a movie unless the wanted id exists or the unique key is taken.
/// KEYS: id counter, index, unique key (the counter again when there is none).
/// ARGV: row prefix, wanted id or '', the record as JSON without its id,
/// companion key suffix ('' for none), companion value.
const CREATE: &str = r#"
local id = ARGV[2]
if id ~= '' and redis.call('EXISTS', ARGV[1] .. id) == 1 then return {'exists', id} end
if KEYS[3] ~= KEYS[1] and redis.call('EXISTS', KEYS[3]) == 1 then return {'taken', ''} end
if id == '' then
  id = tostring(redis.call('INCR', KEYS[1]))
elseif tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(id) then
  redis.call('SET', KEYS[1], id)
end
redis.call('SET', ARGV[1] .. id, '{"id":"' .. id .. '",' .. string.sub(ARGV[3], 2))
if ARGV[4] ~= '' then redis.call('SET', ARGV[1] .. id .. ARGV[4], ARGV[5]) end
if KEYS[3] ~= KEYS[1] then redis.call('SET', KEYS[3], id) end
redis.call('ZADD', KEYS[2], id, id)
return {'created', id}
"#;

/// Reserves seats and records the booking, or changes nothing.
/// KEYS: the movie's seat counter, booking counter, bookings index, the user's index.
/// ARGV: booking row prefix, seats, the booking as JSON without its id.
const CREATE_BOOKING: &str = r#"
local left = redis.call('GET', KEYS[1])
if not left then return {'movie-missing', ''} end
if tonumber(left) < tonumber(ARGV[2]) then return {'not-enough', left} end
redis.call('DECRBY', KEYS[1], ARGV[2])
local id = tostring(redis.call('INCR', KEYS[2]))
redis.call('SET', ARGV[1] .. id, '{"id":"' .. id .. '",' .. string.sub(ARGV[3], 2))
redis.call('ZADD', KEYS[3], id, id)
redis.call('ZADD', KEYS[4], id, id)
return {'created', id}
"#;

/// Deletes a booking and gives its seats back (never above the hall's capacity).
/// KEYS: booking, bookings index. ARGV: movie row prefix, user row prefix, booking id,
/// the seat counter's suffix ([`SEATS_LEFT`]), the user booking index's ([`USER_BOOKINGS`]).
const CANCEL_BOOKING: &str = r"
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local booking = cjson.decode(raw)
local movie = redis.call('GET', ARGV[1] .. booking.movieId)
if movie then
  local key = ARGV[1] .. booking.movieId .. ARGV[4]
  local left = tonumber(redis.call('GET', key) or '0') + tonumber(booking.seats)
  redis.call('SET', key, math.min(tonumber(cjson.decode(movie).seats), left))
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', ARGV[2] .. booking.userId .. ARGV[5], ARGV[3])
return 1
";

/// KEYS: user, users index. ARGV: email key prefix, user id.
const DELETE_USER: &str = r"
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local email = ARGV[1] .. cjson.decode(raw).email
redis.call('DEL', KEYS[1])
if redis.call('GET', email) == ARGV[2] then redis.call('DEL', email) end
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
";

/// KEYS: movie, its seat counter, movies index. ARGV: movie id.
const DELETE_MOVIE: &str = r"
local deleted = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return deleted
";

struct Scripts {
    create: Script,
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
    /// What [`RedisStore::for_this_thread`] connects with.
    origin: std::sync::Arc<(RedisConfig, StoreSettings)>,
}

/// A failed Redis command: an outage, unless Redis answered something this code could
/// not read or was sent something it could not take (a bug here, not Redis being down).
#[expect(clippy::needless_pass_by_value, reason = "a `map_err` argument takes the error by value")]
fn unavailable(err: fred::error::Error) -> StoreError {
    use fred::error::ErrorKind;
    match err.kind() {
        ErrorKind::Parse | ErrorKind::InvalidArgument | ErrorKind::InvalidCommand => StoreError::Bug(err.to_string()),
        _ => StoreError::Unavailable(err.to_string()),
    }
}

/// A record as JSON without its `id` (the create scripts put the id they assign first).
fn json_without_id<T: Serialize>(record: &T) -> StoreResult<String> {
    let json = serde_json::to_string(record).map_err(|e| StoreError::Bug(e.to_string()))?;
    // Records serialize their id first, as a string of digits: cut it out of the text.
    // Through a `Value` tree this was a third of a booking's allocations. A `"` that
    // opens a key is never escaped, so the movie's computed seat count is found as a key.
    if let Some(rest) = json.strip_prefix(r#"{"id":""#)
        && let Some((id, rest)) = rest.split_once(r#"","#)
        && id.bytes().all(|b| b.is_ascii_digit())
        && !rest.contains(r#""availableSeats":"#)
    {
        return Ok(format!("{{{rest}"));
    }
    let mut value = serde_json::from_str::<serde_json::Value>(&json).map_err(|e| StoreError::Bug(e.to_string()))?;
    if let Some(map) = value.as_object_mut() {
        // Shift, not swap: rows keep the API's field order, since list pages pass them on.
        map.shift_remove("id");
        map.shift_remove("availableSeats");
    }
    Ok(value.to_string())
}

/// A stored row; one that does not parse is logged and treated as absent.
fn parse<T: DeserializeOwned>(raw: &str) -> Option<T> {
    if raw.is_empty() {
        return None;
    }
    serde_json::from_str(raw).map_err(|e| tracing::warn!(%e, "unreadable record in Redis")).ok()
}

/// A movie row plus its seat counter (kept apart so a reservation is a DECRBY).
fn parse_movie(raw: &str, seats_left: &str) -> Option<Movie> {
    let mut row: serde_json::Value = parse(raw)?;
    let seats_left: u32 = seats_left.parse().ok()?;
    row.as_object_mut()?.insert("availableSeats".into(), seats_left.into());
    serde_json::from_value(row).map_err(|e| tracing::warn!(%e, "unreadable movie in Redis")).ok()
}

/// Retries forever, 10 ms doubling to 2 s. fred waits a policy delay plus up to 100 ms
/// of jitter even before the first attempt: with 100 ms and the default jitter a role
/// took 130-200 ms to turn ready; with these, 20-26 ms (loopback Redis, release build).
fn reconnect_policy() -> ReconnectPolicy {
    let mut policy = ReconnectPolicy::new_exponential(0, 10, 2_000, 2);
    policy.set_jitter(10);
    policy
}

impl RedisStore {
    /// Builds the pool and starts connecting in the background; never waits for Redis.
    /// Its connections are driven by the runtime of the calling thread.
    pub(crate) fn connect(mut config: RedisConfig, settings: &StoreSettings) -> Result<RedisStore, OpenError> {
        // Keep retrying the first connection too: in a cluster Redis may start after us.
        config.fail_fast = false;
        let stored_config = config.clone();
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
            .set_policy(reconnect_policy())
            .build_pool(settings.pool_size)?;
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
                create: Script::from_lua(CREATE),
                create_booking: Script::from_lua(CREATE_BOOKING),
                cancel_booking: Script::from_lua(CANCEL_BOOKING),
                delete_user: Script::from_lua(DELETE_USER),
                delete_movie: Script::from_lua(DELETE_MOVIE),
            }),
            origin: std::sync::Arc::new((stored_config, settings.clone())),
        })
    }

    /// The same store with connections of the calling thread's own. A worker that used
    /// a client living on another thread would wake that thread for every command and
    /// wait to be woken back (measured: the main thread spent 40% of a core relaying a
    /// list page's commands, mostly in the kernel).
    pub(crate) fn for_this_thread(&self) -> Result<RedisStore, OpenError> {
        RedisStore::connect(self.origin.0.clone(), &self.origin.1)
    }

    /// EVALSHA, loading the script first if Redis does not know it (new or restarted).
    async fn run<R: FromValue>(&self, script: &Script, keys: Vec<String>, args: Vec<String>) -> StoreResult<R> {
        let client = self.pool.next_connected();
        script.evalsha_with_reload(client, keys, args).await.map_err(unavailable)
    }

    pub(crate) async fn ping(&self) -> StoreResult<()> {
        self.pool.ping::<String>(None).await.map(drop).map_err(unavailable)
    }

    pub(crate) async fn needs_seed(&self) -> StoreResult<bool> {
        let seeded: bool = self.pool.exists(self.keys.seeded()).await.map_err(unavailable)?;
        Ok(!seeded)
    }

    pub(crate) async fn mark_seeded(&self) -> StoreResult<()> {
        self.pool
            .set::<(), _, _>(self.keys.seeded(), clock::now_rfc3339(), None, None, false)
            .await
            .map_err(unavailable)
    }

    /// One page of `index` with its rows (and each row's companion key, if any):
    /// `(total, [row, companion?, row, companion?, …])`, '' where a row is missing.
    async fn page_rows(
        &self,
        index: String,
        entity: &str,
        page: PageRequest,
        companion: &str,
    ) -> StoreResult<(u64, Vec<String>)> {
        let row = self.keys.row_pattern(entity);
        let mut get = vec![row.clone()];
        if !companion.is_empty() {
            get.push(format!("{row}{companion}"));
        }
        let range = (page.offset as i64, page.limit as i64);
        // Pipelined: one write and one read, not a MULTI (which measured at half the
        // throughput for a 3-row page). A write landing between the two commands can
        // leave `total` one off the page, which a list envelope may be anyway a moment later.
        let pipeline = self.pool.next_connected().pipeline();
        pipeline.zcard::<(), _>(&index).await.map_err(unavailable)?;
        pipeline
            .sort_ro::<(), _, _>(&index, Some("nosort".into()), Some(range), get, None, false)
            .await
            .map_err(unavailable)?;
        let (total, rows): (u64, Vec<Option<String>>) = pipeline.all().await.map_err(unavailable)?;
        Ok((total, rows.into_iter().map(Option::unwrap_or_default).collect()))
    }

    /// A page of rows stored exactly as the API shows them, passed on without parsing.
    async fn page<T>(&self, index: String, entity: &str, page: PageRequest) -> StoreResult<Page<Encoded<T>>> {
        let (total, rows) = self.page_rows(index, entity, page, "").await?;
        // A row deleted between the two commands is left out, as is an unreadable one.
        Ok(Page {
            items: rows.into_iter().filter(|row| !row.is_empty()).filter_map(Encoded::from_stored).collect(),
            total,
        })
    }

    async fn get<T: DeserializeOwned>(&self, key: String) -> StoreResult<Option<T>> {
        let raw: Option<String> = self.pool.get(key).await.map_err(unavailable)?;
        Ok(raw.as_deref().and_then(parse))
    }

    /// Runs the CREATE script; `Some(id)` when created, `None` when `unique_key` was taken.
    async fn create<T: Serialize>(
        &self,
        table: &str,
        entity: &str,
        wanted: Option<Id>,
        unique_key: Option<String>,
        record: &T,
        companion: (&str, String),
    ) -> StoreResult<Result<(Id, bool), ()>> {
        let seq = self.keys.seq(table);
        let keys = vec![seq.clone(), self.keys.index(table), unique_key.unwrap_or(seq)];
        let args = vec![
            self.keys.row_prefix(entity),
            wanted.map(|i| i.to_string()).unwrap_or_default(),
            json_without_id(record)?,
            companion.0.to_owned(),
            companion.1,
        ];
        let (status, id): (String, String) = self.run(&self.scripts.create, keys, args).await?;
        match (status.as_str(), Id::parse(&id)) {
            ("created", Some(id)) => Ok(Ok((id, true))),
            ("exists", Some(id)) => Ok(Ok((id, false))),
            ("taken", _) => Ok(Err(())),
            _ => Err(StoreError::Bug(format!("unexpected script reply {status}"))),
        }
    }

    pub(crate) async fn create_user(&self, id: Option<Id>, user: &NewUser) -> StoreResult<User> {
        let record = User::stored(id.unwrap_or(Id(0)), user, clock::now_rfc3339());
        let unique = Some(self.keys.email(user.email.as_str()));
        match self.create("users", "user", id, unique, &record, ("", String::new())).await? {
            Ok((id, true)) => Ok(User { id, ..record }),
            Ok((id, false)) => {
                self.get(self.keys.row("user", id)).await?.ok_or(StoreError::Unavailable("user vanished".into()))
            }
            Err(()) => Err(StoreError::EmailTaken),
        }
    }

    /// The row as stored: it is already the JSON the API returns.
    pub(crate) async fn get_user(&self, id: Id) -> StoreResult<Option<Encoded<User>>> {
        let raw: Option<String> = self.pool.get(self.keys.row("user", id)).await.map_err(unavailable)?;
        Ok(raw.and_then(Encoded::from_stored))
    }

    pub(crate) async fn delete_user(&self, id: Id) -> StoreResult<bool> {
        let keys = vec![self.keys.row("user", id), self.keys.index("users")];
        let args = vec![self.keys.email(""), id.to_string()];
        self.run::<i64>(&self.scripts.delete_user, keys, args).await.map(|n| n == 1)
    }

    pub(crate) async fn list_users(&self, page: PageRequest) -> StoreResult<Page<Encoded<User>>> {
        self.page(self.keys.index("users"), "user", page).await
    }

    pub(crate) async fn create_movie(&self, id: Option<Id>, movie: &NewMovie) -> StoreResult<Movie> {
        let record = Movie::stored(id.unwrap_or(Id(0)), movie, clock::now_rfc3339());
        let companion = (SEATS_LEFT, movie.seats.to_string());
        match self.create("movies", "movie", id, None, &record, companion).await? {
            Ok((id, true)) => Ok(Movie { id, ..record }),
            Ok((id, false)) => self.get_movie(id).await?.ok_or(StoreError::Unavailable("movie vanished".into())),
            Err(()) => Err(StoreError::Bug("movie create reported a taken key".into())),
        }
    }

    pub(crate) async fn get_movie(&self, id: Id) -> StoreResult<Option<Movie>> {
        let keys = vec![self.keys.row("movie", id), self.keys.seats_left(id)];
        let (raw, seats_left): (Option<String>, Option<String>) = self.pool.mget(keys).await.map_err(unavailable)?;
        Ok(raw.zip(seats_left).and_then(|(raw, left)| parse_movie(&raw, &left)))
    }

    pub(crate) async fn delete_movie(&self, id: Id) -> StoreResult<bool> {
        let keys = vec![self.keys.row("movie", id), self.keys.seats_left(id), self.keys.index("movies")];
        self.run::<i64>(&self.scripts.delete_movie, keys, vec![id.to_string()]).await.map(|n| n == 1)
    }

    pub(crate) async fn list_movies(&self, page: PageRequest) -> StoreResult<Page<Movie>> {
        let (total, rows) = self.page_rows(self.keys.index("movies"), "movie", page, SEATS_LEFT).await?;
        let items = rows.chunks(2).filter_map(|pair| parse_movie(&pair[0], pair.get(1)?)).collect();
        Ok(Page { items, total })
    }

    pub(crate) async fn create_booking(&self, new: NewBooking) -> StoreResult<Booking> {
        let order = new.order;
        let record = Booking::stored(Id(0), new, clock::now_rfc3339());
        let keys = vec![
            self.keys.seats_left(order.movie_id),
            self.keys.seq("bookings"),
            self.keys.index("bookings"),
            self.keys.user_bookings(order.user_id),
        ];
        let args = vec![self.keys.row_prefix("booking"), order.seats.get().to_string(), json_without_id(&record)?];
        let (status, value): (String, String) = self.run(&self.scripts.create_booking, keys, args).await?;
        match (status.as_str(), Id::parse(&value)) {
            ("created", Some(id)) => Ok(Booking { id, ..record }),
            ("movie-missing", _) => Err(StoreError::MovieNotFound),
            ("not-enough", _) => Err(StoreError::NotEnoughSeats { available: value.parse().unwrap_or(0) }),
            _ => Err(StoreError::Bug(format!("unexpected script reply {status}"))),
        }
    }

    pub(crate) async fn get_booking(&self, id: Id) -> StoreResult<Option<Booking>> {
        self.get(self.keys.row("booking", id)).await
    }

    pub(crate) async fn cancel_booking(&self, id: Id) -> StoreResult<bool> {
        let keys = vec![self.keys.row("booking", id), self.keys.index("bookings")];
        let args = vec![
            self.keys.row_prefix("movie"),
            self.keys.row_prefix("user"),
            id.to_string(),
            SEATS_LEFT.to_owned(),
            USER_BOOKINGS.to_owned(),
        ];
        self.run::<i64>(&self.scripts.cancel_booking, keys, args).await.map(|n| n == 1)
    }

    pub(crate) async fn list_bookings(
        &self,
        user: Option<Id>,
        page: PageRequest,
    ) -> StoreResult<Page<Encoded<Booking>>> {
        let index = match user {
            Some(user) => self.keys.user_bookings(user),
            None => self.keys.index("bookings"),
        };
        self.page(index, "booking", page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_take_key_names_from_keys_not_literals() {
        let keys = Keys { prefix: "p".into() };
        assert_eq!(keys.seats_left(Id(3)), "p:movie:3:seats-left");
        assert_eq!(keys.user_bookings(Id(2)), "p:user:2:bookings");
        for script in [CREATE, CREATE_BOOKING, CANCEL_BOOKING, DELETE_USER, DELETE_MOVIE] {
            for literal in [SEATS_LEFT, USER_BOOKINGS, ":user", ":movie", ":booking", "seeded", ":seq"] {
                assert!(!script.contains(literal), "a script spells out {literal}");
            }
        }
    }

    #[test]
    fn rows_keep_the_api_field_order_so_list_pages_match_single_reads() {
        let user = User { id: Id(9), name: "a".into(), email: "a@example.com".into(), created_at: "t".into() };
        let row = json_without_id(&user).unwrap();
        assert_eq!(row, r#"{"name":"a","email":"a@example.com","createdAt":"t"}"#);
        // What the CREATE script stores: the id spliced in first.
        let stored = format!("{{\"id\":\"9\",{}", &row[1..]);
        assert_eq!(stored, serde_json::to_string(&user).unwrap());
    }

    #[test]
    fn cutting_the_id_out_as_text_gives_what_removing_it_from_the_value_gives() {
        fn through_a_value<T: Serialize>(record: &T) -> String {
            let mut value = serde_json::to_value(record).unwrap();
            let map = value.as_object_mut().unwrap();
            map.shift_remove("id");
            map.shift_remove("availableSeats");
            value.to_string()
        }
        let awkward = r#"{"id":"7","availableSeats":"x"}\ é"#;
        let user = User { id: Id(0), name: awkward.into(), email: "a@example.com".into(), created_at: "t".into() };
        let movie = Movie {
            id: Id(12),
            title: awkward.into(),
            genre: "g".into(),
            year: 2026,
            director: Some(awkward.into()),
            seats: 10,
            available_seats: 4,
            created_at: "t".into(),
        };
        let served = crate::data::domain::ServedBy { service: "s".into(), cluster: awkward.into(), pod: "p".into() };
        let booking = Booking {
            id: Id(0),
            user_id: Id(1),
            movie_id: Id(2),
            seats: 3,
            created_at: "t".into(),
            route: crate::data::domain::Route { user: Some(served.clone()), movie: None, booking: served },
        };
        assert_eq!(json_without_id(&user).unwrap(), through_a_value(&user));
        assert_eq!(json_without_id(&movie).unwrap(), through_a_value(&movie));
        assert_eq!(json_without_id(&booking).unwrap(), through_a_value(&booking));
        assert!(!json_without_id(&movie).unwrap().contains(r#""availableSeats":"#), "the key, not the title's text");
    }
}
