// Package signing owns Ferry's keys and signatures: the key policy (SPEC
// §4a: ECDSA P-256/P-384/P-521, RSA of 2048 bits or more, Ed25519),
// cosign-compatible encrypted key pairs, signatures over small messages
// (bundle.json, a part index) and over streams too large to hold (the
// whole bundle, each part), verification with a public key alone, and the
// base64 signature files that stock `cosign verify-blob --key` accepts.
//
// ECDSA and RSA keys sign the sha256 of the signed bytes; Ed25519 keys
// sign the bytes themselves (PureEdDSA), streamed for large content, so
// that no key type ever signs a digest it ignores.
package signing
