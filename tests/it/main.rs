//! Integration tests: real roles on loopback ports, against the in-process store and a
//! real Redis (started by `scripts/test.sh`, reached through `TEST_REDIS_URL`).

mod booking;
mod chaos;
mod facts;
mod gateway;
mod layers;
mod meta;
mod movie;
mod openapi;
mod outage;
mod process;
mod support;
mod user;
