// Package signing owns Ferry's keys and signatures: cosign-compatible
// encrypted ECDSA P-256 key pairs, signing of digests through
// sigstore/sigstore, verification with a public key alone, and the base64
// signature files that stock `cosign verify-blob --key` accepts.
package signing
