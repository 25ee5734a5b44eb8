// Wrapper module: go.etcd.io/etcd/server/v3 has local replace directives,
// so `go install` cannot build it; this main calls etcdmain.Main instead.
module ecs-operator.dev/e2e/tools/etcd

go 1.25.0

require go.etcd.io/etcd/server/v3 v3.6.16
