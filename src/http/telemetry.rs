//! Logging: the tracing subscriber and one structured line per request.
//!
//! Lines go through [`LogSink`]: a buffer that a background thread writes to stdout
//! every [`FLUSH_EVERY`], so answering a request costs no `write` system call (it was
//! one and a half per request, about a sixth of the gateway's system-call time under
//! load). A line reaches stdout at most that late; [`flush`] empties the buffer at exit.

use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use parking_lot::Mutex;
use tracing::Instrument;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use crate::http::identity::Identity;
use crate::settings::cli::LogFormat;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How long a log line may wait in the buffer before it is written.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// A buffer this full is written at once by the thread that filled it.
const FLUSH_AT_BYTES: usize = 256 * 1024;

/// Log lines waiting to be written, in the order they were logged.
pub(crate) struct LogSink<W> {
    pending: Mutex<Vec<u8>>,
    /// Held while a chunk is taken and written, so chunks reach `out` in order.
    out: Mutex<W>,
}

impl<W: Write> LogSink<W> {
    pub(crate) fn new(out: W) -> Self {
        LogSink { pending: Mutex::new(Vec::with_capacity(8 * 1024)), out: Mutex::new(out) }
    }

    /// Queues bytes; writes them at once when the buffer is full.
    pub(crate) fn push(&self, bytes: &[u8]) {
        let full = {
            let mut pending = self.pending.lock();
            pending.extend_from_slice(bytes);
            pending.len() >= FLUSH_AT_BYTES
        };
        if full {
            self.flush();
        }
    }

    /// Writes everything queued so far.
    pub(crate) fn flush(&self) {
        let mut out = self.out.lock();
        let chunk = std::mem::take(&mut *self.pending.lock());
        if !chunk.is_empty() {
            // Nowhere to report a failed log write; the line is lost either way.
            let _ = out.write_all(&chunk).and_then(|()| out.flush());
        }
    }

    #[cfg(test)]
    fn into_inner(self) -> W {
        self.out.into_inner()
    }
}

static STDOUT_SINK: LazyLock<LogSink<io::Stdout>> = LazyLock::new(|| {
    std::thread::Builder::new()
        .name("log-flush".into())
        .spawn(|| {
            loop {
                std::thread::sleep(FLUSH_EVERY);
                STDOUT_SINK.flush();
            }
        })
        .expect("the log flushing thread starts");
    LogSink::new(io::stdout())
});

/// What the fmt layer writes one event into.
pub(crate) struct SinkWriter(&'static LogSink<io::Stdout>);

impl Write for SinkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.push(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn stdout_sink() -> SinkWriter {
    SinkWriter(&STDOUT_SINK)
}

/// Writes the log lines still buffered; call before the process exits.
pub fn flush() {
    STDOUT_SINK.flush();
}

/// Installs the global subscriber; `filter` was validated by config.
pub fn init(format: LogFormat, filter: &str) {
    let filter: Targets = filter.parse().unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    // Colours only for a person at a terminal, not in files and log collectors.
    let ansi = format == LogFormat::Text && io::stdout().is_terminal();
    let installed = tracing_subscriber::registry().with(filter).with(line_layer(format, ansi, stdout_sink)).try_init();
    // Tests install it once per process; later calls find it there already.
    if installed.is_ok() && !ansi {
        let _ = ACCESS_LAYOUT.set(format);
    }
}

/// The fmt layer that writes the service's lines in `format` to `writer`: the one
/// layout [`AccessLine`] copies (text without the target; JSON flattened, with the
/// current span and no span list).
fn line_layer<S, W>(format: LogFormat, ansi: bool, writer: W) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Text => layer.with_target(false).with_ansi(ansi).boxed(),
        LogFormat::Json => layer.json().flatten_event(true).with_current_span(true).with_span_list(false).boxed(),
    }
}

/// The layout [`init`] gave the fmt layer, when the access line may be written
/// straight into the sink in that same layout. Unset (colours for a terminal, or a
/// subscriber that is not ours) the line goes through tracing like any other.
static ACCESS_LAYOUT: OnceLock<LogFormat> = OnceLock::new();

/// One request's access line, written by hand byte for byte as the fmt layer writes
/// an event with these fields (text: `with_target(false)`; JSON: flattened, `target`
/// last). Through the subscriber's field visitors it cost about 12,000 instructions
/// per request, an eighth of a whole `GET /users/1`.
#[derive(Clone, Copy)]
struct AccessLine<'a> {
    method: &'a str,
    path: &'a str,
    status: u16,
    latency_ms: f64,
    request_id: &'a str,
    service: &'a str,
    cluster: &'a str,
}

impl AccessLine<'_> {
    /// The line as a tracing event, which the fmt layer formats: what `render` copies.
    fn through_tracing(self) {
        tracing::info!(
            target: "access",
            method = %self.method,
            path = self.path,
            status = self.status,
            latency_ms = self.latency_ms,
            request_id = self.request_id,
            service = self.service,
            cluster = self.cluster,
            "request"
        );
    }

    /// The line, newline included, as logged at `now`.
    fn render(self, layout: LogFormat, now: SystemTime) -> String {
        use std::fmt::Write as _;
        let mut stamp = [0u8; TIMESTAMP_LEN];
        rfc3339_micros(now, &mut stamp);
        let timestamp = std::str::from_utf8(&stamp).unwrap_or_default();
        let AccessLine { method, path, status, latency_ms, request_id, service, cluster } = self;
        let mut line = String::with_capacity(256);
        // Writing into a String cannot fail.
        match layout {
            LogFormat::Text => {
                let _ = write!(line, "{timestamp}  INFO request method={method} path=");
                quote(&mut line, path, layout);
                let _ = write!(line, " status={status} latency_ms={latency_ms:?} request_id=");
                quote(&mut line, request_id, layout);
                line.push_str(" service=");
                quote(&mut line, service, layout);
                line.push_str(" cluster=");
                quote(&mut line, cluster, layout);
            }
            LogFormat::Json => {
                let _ = write!(line, r#"{{"timestamp":"{timestamp}","level":"INFO","message":"request","method":"#);
                quote(&mut line, method, layout);
                line.push_str(r#","path":"#);
                quote(&mut line, path, layout);
                let latency = serde_json::to_string(&latency_ms).unwrap_or_default();
                let _ = write!(line, r#","status":{status},"latency_ms":{latency},"request_id":"#);
                quote(&mut line, request_id, layout);
                line.push_str(r#","service":"#);
                quote(&mut line, service, layout);
                line.push_str(r#","cluster":"#);
                quote(&mut line, cluster, layout);
                line.push_str(r#","target":"access"}"#);
            }
        }
        line.push('\n');
        line
    }
}

/// `value` in quotes as the layout's field visitor writes a string: text as `{:?}`,
/// JSON as serde_json. Printable ASCII without `"` or `\` (every method, path and id
/// in practice) is the same in both, the value itself, so it is copied as it is.
fn quote(line: &mut String, value: &str, layout: LogFormat) {
    use std::fmt::Write as _;
    if value.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\') {
        line.push('"');
        line.push_str(value);
        line.push('"');
    } else if layout == LogFormat::Text {
        let _ = write!(line, "{value:?}");
    } else {
        line.push_str(&serde_json::to_string(value).unwrap_or_default());
    }
}

const TIMESTAMP_LEN: usize = "2026-12-04T02:59:53.741929Z".len();

thread_local! {
    /// The second formatted last and its `YYYY-MM-DDTHH:MM:SS`: a second's lines share it.
    static LAST_SECOND: RefCell<(u64, [u8; 19])> = const { RefCell::new((u64::MAX, [0; 19])) };
}

/// `now` as the fmt layer's timer writes it: UTC, microseconds, `Z`.
fn rfc3339_micros(now: SystemTime, out: &mut [u8; TIMESTAMP_LEN]) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    LAST_SECOND.with_borrow_mut(|(second, text)| {
        if *second != seconds {
            *second = seconds;
            *text = date_time(seconds);
        }
        out[..19].copy_from_slice(text);
    });
    out[19] = b'.';
    put_digits(&mut out[20..26], u64::from(since.subsec_micros()));
    out[26] = b'Z';
}

/// `value`'s last `out.len()` decimal digits, zero-padded.
fn put_digits(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time (proleptic Gregorian calendar, UTC).
fn date_time(unix_seconds: u64) -> [u8; 19] {
    let (days, of_day) = (unix_seconds / 86_400, unix_seconds % 86_400);
    // Days to a civil date, in 400-year eras counted from 0000-03-01.
    let z = days + 719_468;
    let (era, day_of_era) = (z / 146_097, z % 146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    let mut text = *b"0000-00-00T00:00:00";
    for (at, width, value) in [
        (0, 4, year),
        (5, 2, month),
        (8, 2, day),
        (11, 2, of_day / 3_600),
        (14, 2, of_day / 60 % 60),
        (17, 2, of_day % 60),
    ] {
        put_digits(&mut text[at..at + width], value);
    }
    text
}

/// Logs each request once it has been answered, and gives every response an
/// `x-request-id` (the caller's, or a fresh one) so a log line can be found from it.
/// The request is handled inside a `request` span holding that id.
pub(crate) async fn log_request(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let request_id = if let Some(id) = req.headers().get(&REQUEST_ID) {
        id.clone()
    } else {
        // Put it on the request too, so the calls this request causes carry it.
        // Not `Uuid::new_v4()`: that asks the OS for every id, a `getrandom` system call
        // per request (measured: about 9% of the gateway's system-call time). rand's
        // thread-local generator is seeded from the OS once and reseeds itself.
        let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let id = HeaderValue::from_str(uuid.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()))
            .expect("a uuid is a valid header value");
        req.headers_mut().insert(REQUEST_ID, id.clone());
        id
    };
    // Every line logged while the request is handled (store and chaos warnings too)
    // carries its request id; the access line below names it itself.
    let span = tracing::info_span!("request", request_id = request_id.to_str().unwrap_or("-"));
    let mut res = next.call(req).instrument(span).await?;
    let answered = res.request();
    let me = answered.app_data::<web::Data<Identity>>();
    let line = AccessLine {
        method: answered.method().as_str(),
        path: answered.path(),
        status: res.status().as_u16(),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        request_id: request_id.to_str().unwrap_or("-"),
        service: me.map_or("unknown", |me| me.service),
        cluster: me.map_or("", |me| me.cluster.as_str()),
    };
    if let Some(&layout) = ACCESS_LAYOUT.get() {
        if tracing::enabled!(target: "access", tracing::Level::INFO) {
            STDOUT_SINK.push(line.render(layout, SystemTime::now()).as_bytes());
        }
    } else {
        line.through_tracing();
    }
    if !res.headers().contains_key(&REQUEST_ID) {
        res.headers_mut().insert(REQUEST_ID, request_id);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sink_keeps_every_line_in_order_across_threads() {
        let sink = std::sync::Arc::new(LogSink::new(Vec::new()));
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        sink.push(format!("t{t} line {i}\n").as_bytes());
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        sink.flush();
        let out = String::from_utf8(std::sync::Arc::try_unwrap(sink).ok().unwrap().into_inner()).unwrap();
        for t in 0..4 {
            let mine: Vec<&str> = out.lines().filter(|l| l.starts_with(&format!("t{t} "))).collect();
            let expected: Vec<String> = (0..5_000).map(|i| format!("t{t} line {i}")).collect();
            assert_eq!(mine, expected, "thread {t}'s lines, all and in order");
        }
    }

    #[test]
    fn nothing_is_written_before_a_flush_unless_the_buffer_fills() {
        let sink = LogSink::new(Vec::new());
        sink.push(b"one line\n");
        assert!(sink.out.lock().is_empty());
        sink.push(&vec![b'x'; FLUSH_AT_BYTES]);
        assert_eq!(sink.out.lock().len(), FLUSH_AT_BYTES + 9, "a full buffer goes out at once");
    }

    /// What the fmt layer `init` installs writes for the access event.
    fn through_the_subscriber(layout: LogFormat, line: AccessLine<'_>) -> String {
        let written = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = written.clone();
        let layer = line_layer(layout, false, move || Captured(sink.clone()));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || line.through_tracing());
        String::from_utf8(written.lock().clone()).unwrap()
    }

    struct Captured(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The line with its timestamp blanked: the two were not written at the same instant.
    fn untimed(line: &str) -> String {
        let at = line.find("20").expect("a timestamp");
        format!("{}{}", &line[..at], &line[at + TIMESTAMP_LEN..])
    }

    #[test]
    fn the_access_line_is_the_one_the_fmt_layer_writes() {
        let usual = AccessLine {
            method: "GET",
            path: "/users/1?q=a b~&x=%20",
            status: 200,
            latency_ms: 0.149_943_000_000_000_02,
            request_id: "e11667a5-c4ef-4eda-a3b4-ac75c4fff009",
            service: "user-service",
            cluster: "ctx1",
        };
        let awkward = AccessLine {
            method: "PURGE",
            path: "/users/\"quoted\"\\back\u{7f}/\u{e9}\u{1F600}\u{200b}",
            status: 404,
            latency_ms: 12.0,
            request_id: "a\"b\tc",
            service: "unknown",
            cluster: "",
        };
        for line in [usual, awkward] {
            for layout in [LogFormat::Text, LogFormat::Json] {
                let ours = line.render(layout, SystemTime::now());
                let theirs = through_the_subscriber(layout, line);
                assert_eq!(untimed(&ours), untimed(&theirs), "{layout:?}");
                assert!(ours.ends_with('\n') && ours.matches('\n').count() == 1, "{ours}");
            }
        }
    }

    #[test]
    fn timestamps_are_written_as_the_fmt_layer_timer_writes_them() {
        // The epoch, ends of days, leap days (2000, 2024), 2100 (no leap day), and a
        // day every 29 days for 240 years.
        let mut seconds: Vec<u64> = vec![0, 59, 86_399, 951_782_400, 951_868_799, 1_709_164_800, 4_107_542_400];
        seconds.extend((0..3_000).map(|n| n * 86_400 * 29 + n * 3_601));
        for second in seconds {
            for micros in [0, 7, 999_999] {
                let at = UNIX_EPOCH + Duration::from_secs(second) + Duration::from_micros(micros);
                let mut ours = [0u8; TIMESTAMP_LEN];
                rfc3339_micros(at, &mut ours);
                let expected = jiff::Timestamp::try_from(at).unwrap().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
                assert_eq!(std::str::from_utf8(&ours).unwrap(), expected, "{second} s {micros} µs");
            }
        }
        let mut ours = [0u8; TIMESTAMP_LEN];
        rfc3339_micros(SystemTime::now(), &mut ours);
        let mut theirs = String::new();
        tracing_subscriber::fmt::time::FormatTime::format_time(
            &tracing_subscriber::fmt::time::SystemTime,
            &mut tracing_subscriber::fmt::format::Writer::new(&mut theirs),
        )
        .unwrap();
        assert_eq!(theirs.len(), TIMESTAMP_LEN, "{theirs}");
        assert_eq!(ours[..16], theirs.as_bytes()[..16], "the same minute as the fmt layer's own timer says");
    }
}
