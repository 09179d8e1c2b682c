package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

// readOptions turns --key / --insecure-skip-signature into reader options.
func readOptions(cmd *cobra.Command, key string, skip bool) ([]bundle.ReadOption, error) {
	switch {
	case key != "":
		v, err := signing.LoadVerifier(key)
		if err != nil {
			return nil, err
		}
		return []bundle.ReadOption{bundle.WithVerifier(v)}, nil
	case skip:
		fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: --insecure-skip-signature: the bundle's signature is NOT checked; anyone could have made or changed it")
		return []bundle.ReadOption{bundle.WithInsecureSkipSignature()}, nil
	default:
		return nil, errors.New("no trusted key: pass --key ferry.pub (the signer's public key), or --insecure-skip-signature")
	}
}
