// Package hostrules holds the rules by which a host refuses bundle content
// that the builder must check too, so that `ferry build` refuses at build
// time what every host would refuse or misread at install time:
//
//   - CheckFilePath: where a files: entry may be placed. Not inside
//     /var/lib/ferry (Ferry's own state, staging and backups), not on a
//     file Ferry generates or places (config.yaml, units, env files,
//     scripts, the k3s binary and its links, image archives, charts, the
//     HelmChart manifests), not on a directory Ferry needs, not in a
//     kernel file system (/proc, /sys, /dev).
//   - CheckTemplates: a directory of template overrides. Only known
//     template names, each a regular file at the top of the directory, at
//     most MaxTemplateSize bytes, parsing as the installer parses it
//     (manifests.Load).
//
// It depends only on manifests, so both binaries may link it: the builder
// (bundle/spec) does; the installer keeps the same limits (its
// maxTemplateSize and place rules) and can call it to share them.
package hostrules
