//! The controller's decisions, as pure functions of what was read: what each cluster should
//! hold ([`desired`]) and in which order it is applied ([`rollout`]), which clusters count as failed ([`failure`]), which copies stay Pending too long ([`migration`]), what a source's status
//! and annotations should say ([`fleet_status`], [`ingress_status`], [`placement`]), and the
//! objects that carry the traffic to external-dns and Global Accelerator ([`traffic_objects`]). The
//! controller's pass (in the command line, which wires the adapters together) reads, asks
//! these, and writes; every rule is here, unit-tested, with no I/O.

pub mod desired;
pub mod failure;
pub mod fleet_status;
pub mod ingress_status;
pub mod migration;
pub mod placement;
pub mod rollout;
pub mod traffic_objects;
