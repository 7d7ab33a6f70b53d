//! Benchmark harness of chanx: the servers under test ([`servers`], and the lean
//! baseline on fastwebsockets, [`lean`]) and the load generator's scenarios ([`load`]). `scripts/bench.sh` drives them; `BENCHMARKS.md`
//! records the results. The attack tool (`src/bin/attack.rs`, driven by
//! `scripts/soak.sh`) uses a raw WebSocket client ([`raw`]) and watches the server
//! through `/proc` ([`probe`]).

pub mod lean;
pub mod load;
pub mod probe;
pub mod raw;
pub mod servers;
