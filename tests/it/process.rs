//! The real `theater` executable: flag errors, life without Redis, shutdown.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;

use crate::support::get;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A port P with P..P+3 all free, for `--role all`.
fn free_port_block() -> u16 {
    for _ in 0..50 {
        let first = free_port();
        let all_free =
            (0..4).all(|i| first.checked_add(i).is_some_and(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()));
        if all_free {
            return first;
        }
    }
    panic!("no four consecutive free ports on 127.0.0.1")
}

fn theater(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_theater"));
    command.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// Kills the child if a test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for_status(url: &str, wanted: StatusCode, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let answered = crate::support::client().get(url).timeout(Duration::from_millis(500)).send().await;
        if answered.is_ok_and(|r| r.status() == wanted) {
            return true;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[test]
fn a_bad_value_exits_64_naming_the_flag_and_its_env_var() {
    for (args, needle) in [
        (vec!["--role", "user", "--port", "eighty"], "--port (env PORT)"),
        (vec!["--role", "user", "--redis-url", "http://x"], "--redis-url (env REDIS_URL)"),
        (vec!["--role", "booking", "--user-service-url", "ftp://u"], "USER_SERVICE_URL"),
        (vec!["--role", "waiter"], "ROLE"),
        (vec!["--role", "user", "--log-format", "xml"], "LOG_FORMAT"),
    ] {
        let out = theater(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?} should mention {needle}: {stderr}");
    }
    let help = theater(&["--help"]).output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("REDIS_URL"));
}

#[test]
fn every_bad_value_is_reported_at_once() {
    let out = theater(&["--role", "user", "--port", "eighty", "--workers", "0", "--log-format", "xml"])
        .env("STORE_TIMEOUT_MS", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    for needle in [
        "--port (env PORT)",
        "--workers (env WORKERS)",
        "--log-format (env LOG_FORMAT)",
        "--store-timeout-ms (env STORE_TIMEOUT_MS)",
    ] {
        assert!(stderr.contains(needle), "should mention {needle}: {stderr}");
    }
}

#[actix_web::test]
async fn waits_unready_for_a_late_redis_then_seeds_and_serves() {
    let (app_port, redis_port) = (free_port(), free_port());
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let _app = Running(
        theater(&["--role", "user", "--listen-addr", "127.0.0.1", "--port", &app_port.to_string()])
            .env("REDIS_URL", &redis_url)
            .env("REDIS_KEY_PREFIX", &prefix)
            .env("STORE_TIMEOUT_MS", "300")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{app_port}");
    assert!(wait_for_status(&format!("{base}/healthz"), StatusCode::OK, Duration::from_secs(10)).await);
    assert_eq!(get(&format!("{base}/readyz")).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&format!("{base}/users")).await.status, StatusCode::SERVICE_UNAVAILABLE);

    let redis_dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&redis_dir).unwrap();
    let _redis = Running(
        Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &redis_port.to_string(), "--save", "", "--appendonly", "no"])
            .current_dir(&redis_dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)"),
    );
    assert!(
        wait_for_status(&format!("{base}/readyz"), StatusCode::OK, Duration::from_secs(10)).await,
        "the role reconnects by itself once Redis is up"
    );
    let mut seeded = false;
    for _ in 0..50 {
        if get(&format!("{base}/users")).await.body["total"] == 3 {
            seeded = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seeded, "the sample users appear once Redis answers");
    let _ = std::fs::remove_dir_all(&redis_dir);
}

#[actix_web::test]
async fn lines_logged_while_handling_a_request_carry_its_request_id() {
    let port = free_port();
    let mut app = Running(
        theater(&["--role", "user", "--listen-addr", "127.0.0.1", "--port", &port.to_string(), "--chaos"])
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    assert!(wait_for_status(&format!("{base}/healthz"), StatusCode::OK, Duration::from_secs(10)).await);
    let reply = crate::support::client()
        .put(format!("{base}/admin/chaos"))
        .insert_header(("x-request-id", "rid-log-test-7"))
        .send_json(&serde_json::json!({"errorRate": 0.0}))
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let pid = app.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut out = String::new();
    std::io::Read::read_to_string(app.0.stdout.as_mut().unwrap(), &mut out).unwrap();
    let warning = out.lines().find(|l| l.contains("chaos settings changed")).expect("the handler's warning is logged");
    let line: serde_json::Value = serde_json::from_str(warning).unwrap();
    assert_eq!(line["span"]["request_id"], "rid-log-test-7", "{warning}");
}

#[actix_web::test]
async fn sigterm_stops_the_process_cleanly() {
    let port = free_port_block();
    let mut app = Running(
        theater(&["--role", "all", "--listen-addr", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let users = format!("http://127.0.0.1:{}/users", port + 1);
    assert!(wait_for_status(&users, StatusCode::OK, Duration::from_secs(10)).await);
    let pid = app.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    loop {
        if let Some(status) = app.0.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[actix_web::test]
async fn sigterm_lets_in_flight_requests_finish() {
    // booking's lookups take 1 s, so a booking is in flight when SIGTERM arrives.
    let slow_url = crate::support::slow_stand_in(Duration::from_secs(1));

    let port = free_port();
    let mut app = Running(
        theater(&["--role", "booking", "--listen-addr", "127.0.0.1", "--port", &port.to_string()])
            .env("USER_SERVICE_URL", &slow_url)
            .env("MOVIE_SERVICE_URL", &slow_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    assert!(wait_for_status(&format!("{base}/healthz"), StatusCode::OK, Duration::from_secs(10)).await);
    let booking = actix_web::rt::spawn(async move {
        crate::support::post(
            &format!("{base}/bookings"),
            serde_json::json!({"userId": "1", "movieId": "1", "seats": 1}),
        )
        .await
        .status
    });
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let pid = app.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert_eq!(booking.await.unwrap(), StatusCode::CREATED, "the in-flight booking completes");
    let started = Instant::now();
    while app.0.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(10), "still running 10 s after SIGTERM");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}
