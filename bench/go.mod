module github.com/arborgo/arbor/bench

go 1.26.0

require (
	github.com/arborgo/arbor v0.0.0
	github.com/thejerf/suture/v4 v4.0.6
)

require (
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
)

replace github.com/arborgo/arbor => ..
