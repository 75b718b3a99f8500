//! Synthetic fleets (being written).
