// Package exercises checks the exercise templates of stages 01–05 from the
// default test run (it has no code of its own).
//
// Each stage 0N-…/exercise/ holds main.go, a copy of the stage's main.go with
// the key lines replaced by TODO(exercise) comments, and main_test.go, which
// is behind the build tag "exercise" so that `go test ./...` does not run a
// test that fails on purpose. The stage's own main.go is the answer: the
// exercise test builds it instead of the template when given -answer.
//
// Stage 05's template is one file of its example worker:
// 05-full-starter/exercise/ws.go (the WebSocket handler without its drain,
// kept out of the build by "//go:build ignore"), whose answer is
// 05-full-starter/example/ws.go; its test builds the example with the
// template in place of ws.go (go build -overlay), or as it is with -answer.
//
// The tests here prove, on every run of `go test ./...`, that
//   - each template is its answer with lines taken out and comments or
//     TODO(exercise) lines put in, so a template cannot drift from its stage;
//   - each exercise test fails on its template (a test fails; the template
//     compiles) and passes on its answer.
package exercises
