//! Why talking to a live cluster failed: one typed error for the live readers, the executor
//! and the leader election, whose message names the cluster or object, the call and the
//! API server's answer (never a credential).

use crate::error::{LoadError, describe};

/// What went wrong reading or writing a live cluster.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A call to an API server failed (after retries, when it was worth retrying).
    #[error("{action}: {}", describe(source))]
    Api {
        /// What was being done, naming the object or cluster.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// An object read from a cluster is not valid (the error names it and the field).
    #[error(transparent)]
    Invalid(#[from] LoadError),
    /// A registration's kubeconfig cannot make a client.
    #[error("cluster {cluster}: {detail}")]
    Client {
        /// The registered cluster.
        cluster: String,
        /// Why (never quoting credentials).
        detail: String,
    },
    /// A cluster did not answer in time.
    #[error("{action}: no answer within {seconds} s")]
    Timeout {
        /// What was being done.
        action: String,
        /// The limit.
        seconds: u64,
    },
    /// A kubeconfig given to write a registration lacks the cluster's context.
    #[error("the kubeconfig has no context `{context}`")]
    NoContext {
        /// The context (the cluster's name).
        context: String,
    },
    /// Something could not be serialised to be written.
    #[error("cannot write {what}: {source}")]
    Serialize {
        /// What.
        what: &'static str,
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// Wraps a client error with what was being done.
pub(crate) fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> LiveError {
    let action = action.into();
    move |source| LiveError::Api { action, source }
}
