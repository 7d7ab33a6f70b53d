//! Benchmark harness of chanx: the servers under test ([`servers`]) and the load
//! generator's scenarios ([`load`]). `scripts/bench.sh` drives them; `BENCHMARKS.md`
//! records the results.

pub mod load;
pub mod servers;
