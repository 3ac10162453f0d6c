//! netbench integration tests, one binary with a module per area.

mod e2e;
mod golden_parse;
mod k8s_cluster;
mod k8s_fake;
mod k8s_manifests;
mod merge;
mod proptests;
mod support;
mod tables;
