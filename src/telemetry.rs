//! Logging: the tracing subscriber and one structured line per request.
//!
//! Lines go through [`LogSink`]: a buffer that a background thread writes to stdout
//! every [`FLUSH_EVERY`], so answering a request costs no `write` system call (it was
//! one and a half per request, about a sixth of the gateway's system-call time under
//! load). A line reaches stdout at most that late; [`flush`] empties the buffer at exit.

use std::io::{self, IsTerminal, Write};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use parking_lot::Mutex;
use tracing::Instrument;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use crate::cli::LogFormat;
use crate::identity::Identity;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How long a log line may wait in the buffer before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// A buffer this full is written at once by the thread that filled it.
const FLUSH_AT_BYTES: usize = 256 * 1024;

/// Log lines waiting to be written, in the order they were logged.
pub struct LogSink<W> {
    pending: Mutex<Vec<u8>>,
    /// Held while a chunk is taken and written, so chunks reach `out` in order.
    out: Mutex<W>,
}

impl<W: Write> LogSink<W> {
    pub fn new(out: W) -> Self {
        LogSink { pending: Mutex::new(Vec::with_capacity(8 * 1024)), out: Mutex::new(out) }
    }

    /// Queues bytes; writes them at once when the buffer is full.
    pub fn push(&self, bytes: &[u8]) {
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
    pub fn flush(&self) {
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
pub struct SinkWriter(&'static LogSink<io::Stdout>);

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
    let registry = tracing_subscriber::registry().with(filter);
    let layer = tracing_subscriber::fmt::layer().with_writer(stdout_sink);
    let installed = match format {
        // Colours only for a person at a terminal, not in files and log collectors.
        LogFormat::Text => registry.with(layer.with_target(false).with_ansi(io::stdout().is_terminal())).try_init(),
        LogFormat::Json => {
            registry.with(layer.json().flatten_event(true).with_current_span(true).with_span_list(false)).try_init()
        }
    };
    // Tests install it once per process; later calls find it there already.
    drop(installed);
}

/// Logs each request once it has been answered, and gives every response an
/// `x-request-id` (the caller's, or a fresh one) so a log line can be found from it.
/// The request is handled inside a `request` span holding that id.
pub async fn log_request(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
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
    let (service, cluster) = match req.app_data::<web::Data<Identity>>() {
        Some(me) => (me.service, me.cluster.clone()),
        None => ("unknown", String::new()),
    };
    // Every line logged while the request is handled (store and chaos warnings too)
    // carries its request id; the access line below names it itself.
    let span = tracing::info_span!("request", request_id = request_id.to_str().unwrap_or("-"));
    let mut res = next.call(req).instrument(span).await?;
    let status = res.status().as_u16();
    tracing::info!(
        target: "access",
        %method,
        path,
        status,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = request_id.to_str().unwrap_or("-"),
        service,
        cluster,
        "request"
    );
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
}
