//! Leader election through a `coordination.k8s.io/v1` Lease, so that several controller
//! replicas can run and only one acts.
//!
//! The leader renews the Lease on every pass. Another instance takes it over only once it has
//! seen the same holder and renew time, unchanged, for the whole lease duration, measured on
//! its own clock (as client-go does), so clock skew between machines does not matter. Writes
//! carry the resource version they read: of two instances racing for the Lease, one wins and
//! the other gets a conflict and waits.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};

use crate::error::describe;
use crate::live::error::{LiveError, api};

/// The Lease's name.
pub const LEASE_NAME: &str = "fleetplan-controller";

/// One instance's side of the election.
pub struct LeaderElection {
    api: Api<Lease>,
    identity: String,
    duration: Duration,
    /// The holder and renew time last seen, and when they were first seen unchanged.
    observed: Mutex<Option<(String, Instant)>>,
}

impl LeaderElection {
    /// Takes part in the election for the Lease [`LEASE_NAME`] in `namespace` as `identity`.
    pub fn new(client: Client, namespace: &str, identity: String, duration: Duration) -> Self {
        LeaderElection {
            api: Api::namespaced(client, namespace),
            identity,
            duration,
            observed: Mutex::new(None),
        }
    }

    /// This instance's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Takes or renews the Lease; `Ok(None)` when this instance leads now, `Ok(Some(holder))`
    /// when another does.
    ///
    /// # Errors
    /// When the Lease cannot be read or written (other than losing a race).
    pub async fn try_lead(&self) -> Result<Option<String>, LiveError> {
        let now = MicroTime(Timestamp::now());
        let seconds = i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX);
        let Some(lease) = self
            .api
            .get_opt(LEASE_NAME)
            .await
            .map_err(api(format!("cannot read the Lease {LEASE_NAME}")))?
        else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(LEASE_NAME.into()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(None),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(Some("another instance".into())),
                Err(e) => Err(api(format!("cannot create the Lease {LEASE_NAME}"))(e)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let mine = holder.as_deref() == Some(self.identity.as_str());
        if !mine && let Some(holder) = &holder {
            let record = format!("{holder}@{:?}", spec.renew_time.as_ref().map(|t| t.0));
            let held_for = {
                let mut observed = self
                    .observed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match observed.as_ref() {
                    Some((seen, since)) if *seen == record => since.elapsed(),
                    _ => {
                        *observed = Some((record, Instant::now()));
                        Duration::ZERO
                    }
                }
            };
            let lease_seconds = spec.lease_duration_seconds.unwrap_or(seconds);
            let expired = held_for > Duration::from_secs(u64::try_from(lease_seconds).unwrap_or(0));
            if !expired {
                return Ok(Some(holder.clone()));
            }
        }
        let mut renewed = lease;
        let transitions = spec.lease_transitions.unwrap_or(0);
        renewed.spec = Some(LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(seconds),
            acquire_time: if mine {
                spec.acquire_time
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: Some(if mine { transitions } else { transitions + 1 }),
            ..spec
        });
        match self
            .api
            .replace(LEASE_NAME, &PostParams::default(), &renewed)
            .await
        {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                Ok(Some(holder.unwrap_or_else(|| "another instance".into())))
            }
            Err(e) => Err(api(format!("cannot update the Lease {LEASE_NAME}"))(e)),
        }
    }

    /// Gives the Lease up (when leading), so that another instance takes over at once.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(LEASE_NAME).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        if let Err(e) = self.api.replace(LEASE_NAME, &PostParams::default(), &lease).await {
            tracing::warn!(error = %describe(&e), "cannot release the Lease");
        }
    }
}
