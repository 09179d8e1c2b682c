// Package spec owns the bundle spec file (ferry.yaml) and the lock file
// (ferry.lock.json).
//
// Parse and Load read a spec: the YAML is checked against the JSON Schema at
// the repository root (bundle.schema.json, embedded as ferry.Schema) before
// any Go value is built, then checked for what a schema cannot say (unique
// chart releases and file names, clean host paths), then defaults are
// applied. Every problem is reported as a FieldError naming the file, the
// line and the field path, one line each.
//
// A Lock pins what a build resolved — k3s assets, chart archives, image
// digests per architecture, extra files — so that `ferry build --locked`
// can prove a rebuild fetched the same bytes.
//
// It is one of the builder's inputs: only `ferry` (through bundle/builder)
// links it; ferry-install never does (cmd/ferry-install/deps_test.go).
package spec
