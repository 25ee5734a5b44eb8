//! End-to-end tests whose tools cost too much build time for CI (KEDA: ~10 minutes of Go build):
//! `make e2e-extended`, on the light bed.

mod keda;
