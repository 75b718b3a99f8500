//! The fleetplan command line (being written).
fn main() {}
