//! # fleetplan-testbed: several real Kubernetes control planes on one machine
//!
//! fleetplan drives real clusters, so its adapters are tested the way controller-runtime's
//! envtest tests controllers: against a real `kube-apiserver` backed by a real etcd, not a
//! mock. This crate starts several such clusters at once on loopback:
//!
//! - one **etcd** shared by the whole bed (each API server keeps its objects under its own
//!   key prefix, so the clusters are independent);
//! - per cluster a **kube-apiserver** on a free `127.0.0.1` port, a
//!   **kube-controller-manager** (Deployments become ReplicaSets and Pods), a
//!   **kube-scheduler**, and **kwok**, which simulates the nodes and moves the pods scheduled
//!   onto them to `Running` without kubelets;
//! - the nodes of every pool of a [`fleetplan::Cluster`]: region and zone labels, pool labels
//!   and taints, allocatable resources; pools labelled
//!   `eks.amazonaws.com/compute-type: fargate` also get the Fargate taint;
//! - for a cluster with Fargate profiles (pools made by [`fleetplan::NodePool::fargate`]), a
//!   stand-in for EKS's Fargate: an admission policy that sends the pods a profile takes to
//!   virtual Fargate nodes, labelled with their profile as EKS labels them (see
//!   [`fargate`]).
//!
//! - on request ([`TestBed::run_load_balancers`]), a stand-in for the AWS Load Balancer
//!   Controller: an application load balancer in a [`MotoServer`]'s ELBv2 API for every
//!   Ingress of class `alb`, its DNS name written to the Ingress's status (see
//!   [`load_balancers`]).
//!
//! A cluster can instead be a management control plane ([`Role::ControlPlane`]): an API
//! server and a controller manager without the workload controllers, which stores
//! Deployments and Jobs but runs none of them.
//!
//! - on request, a proxy in front of one cluster's API server that answers 429 or 500 for a
//!   while ([`fault_proxy`]).
//!
//! One merged kubeconfig has a context per cluster. Every process is stopped when the
//! [`TestBed`] is dropped (also when a test panics), and every process exits by itself when
//! the process that started the bed dies. One cluster's API server can be stopped and
//! restarted to simulate a failure.
//!
//! The binaries are built from the Go module proxy by `adapters/testbed/build.sh` (real
//! upstream code, cached under `~/.cache/fleetplan/testbed`); [`Binaries::from_env`] finds
//! them through `FLEETPLAN_TESTBED_BIN`.
//!
//! This crate depends on the core only: callers pass clusters in the core model, read from
//! YAML by whichever adapter they like.

mod bed;
mod binaries;
mod error;
pub mod fargate;
pub mod fault_proxy;
pub mod load_balancers;
mod moto;
mod nodes;
mod process;

pub use bed::{CONTROL_PLANE_DISABLED, ClusterInfo, RESTRICTED_USER, Role, TestBed};
pub use binaries::Binaries;
pub use error::Error;
pub use moto::{MOTO_ACCOUNT, MotoServer, sdk_config};
pub use nodes::{FARGATE_LABEL, node_objects};
