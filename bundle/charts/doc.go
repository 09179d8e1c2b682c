// Package charts owns Helm charts on the build side of Ferry: it pulls a chart
// archive from a classic repository, an OCI registry or a local path into a
// content-addressed cache (Pull), renders it client-side the way k3s's
// helm-controller would (Render), and finds every container image the rendered
// manifests run, including images passed only as arguments, environment values
// or ConfigMap data (Images).
//
// Render runs Helm's template engine, which takes no context and has no
// limits, in a worker process: the running executable started again with
// FERRY_CHART_RENDER_WORKER set, which this package's init turns into a
// renderer of one chart (worker.go). The parent kills the worker when the
// context ends or a Limits bound (time, output, memory) is passed; the
// worker stops itself when its memory passes the bound, and the kernel
// kills it if the parent dies.
//
// Everything goes through the Helm v3 SDK with a private Helm configuration
// inside the cache directory; the user's ~/.config/helm is never read or
// written. Archive bytes are kept exactly as downloaded, so the digest in the
// bundle manifest is the upstream digest.
//
// It is one of the builder's inputs: only `ferry` (through bundle/builder)
// links it; ferry-install never does (cmd/ferry-install/deps_test.go).
package charts
