//! Kubernetes adapter (being written).
