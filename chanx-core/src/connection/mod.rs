//! One connection: what a handler sees ([`Context`](crate::Context)), what the macros
//! generate against ([`Channel`](crate::Channel)), the hooks
//! ([`Consumer`](crate::Consumer)), topics ([`Topic`](crate::Topic)) and the loop that
//! serves it.

pub(crate) mod channel;
pub(crate) mod consumer;
pub(crate) mod context;
pub(crate) mod runtime;
pub(crate) mod topic;
