//! The live feed's client side: the wire protocol of `/ws/payments`, the
//! reconnection backoff, and the socket service that feeds the store.

pub mod backoff;
pub mod protocol;
pub mod socket;
