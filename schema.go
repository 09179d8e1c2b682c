// Package ferry is the root of the Ferry module. It carries only the files
// that must live at the repository root, such as the bundle spec's JSON
// Schema; the code lives in bundle/, installer/, manifests/ and signing/.
package ferry

import _ "embed"

// Schema is bundle.schema.json: the JSON Schema (draft 2020-12) of the bundle
// spec file, ferry.yaml. bundle/spec validates every spec against it before
// anything is fetched, and `ferry schema` prints it for editors. Callers must
// not modify the slice.
//
//go:embed bundle.schema.json
var Schema []byte
