// The Argo CD health check runner the e2e tests use: gopher-lua, the Lua VM Argo CD embeds.
module ecs-operator.dev/e2e/tools/argolua

go 1.25.0

require github.com/yuin/gopher-lua v1.1.2
