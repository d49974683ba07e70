// Package main only pins Jaeger's all-in-one program and its dependencies in this module, whose
// go.mod repeats Jaeger's own `replace` for sarama (a module's replace lines do not apply to its
// dependents). scripts/infra.sh builds it with `go install .../cmd/all-in-one` from here.
package main

import _ "github.com/jaegertracing/jaeger/cmd/all-in-one/app"

func main() {}
