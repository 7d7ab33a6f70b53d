//! What goes on the wire: the inbound envelope, the one encoder of outbound frames, the
//! `Message` trait with the framework's own frames, and validation errors.

pub(crate) mod case;
pub(crate) mod frame;
pub(crate) mod message;
pub(crate) mod validate;
