//! End-to-end tests whose tools cost too much build time for CI (KEDA's operator and metrics
//! adapter: a long Go build): `make e2e-extended`, on the node bed (its kube-controller-manager
//! runs the HPA KEDA creates, its netns hosts KEDA's processes).

mod keda;
