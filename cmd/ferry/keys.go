package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

// password returns FERRY_PASSWORD (COSIGN_PASSWORD also works, for keys
// made by cosign) or asks on the terminal.
func password(confirm bool) ([]byte, error) {
	for _, env := range []string{"FERRY_PASSWORD", "COSIGN_PASSWORD"} {
		if pw, ok := os.LookupEnv(env); ok {
			return []byte(pw), nil
		}
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, errors.New("no password: set FERRY_PASSWORD (stdin is not a terminal to ask on)")
	}
	fmt.Fprint(os.Stderr, "Password for the private key: ")
	pw, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil || !confirm {
		return pw, err
	}
	fmt.Fprint(os.Stderr, "Again: ")
	again, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, err
	}
	if string(again) != string(pw) {
		return nil, errors.New("the passwords differ: run keygen again")
	}
	return pw, nil
}

func newKeygenCmd() *cobra.Command {
	prefix, keyType := "ferry", string(signing.KeyTypeDefault)
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make a signing key pair: ferry.key (encrypted, cosign format) and ferry.pub",
		Long: "keygen makes a key pair: PREFIX.key, the private key in cosign's encrypted format (the password\n" +
			"comes from FERRY_PASSWORD or a prompt and may not be empty), and PREFIX.pub for the hosts.\n" +
			"Key types: " + signing.KeyTypes + ". Ed25519 signs the bytes themselves;\n" +
			"RSA under 2048 bits, P-224 and other types are refused.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kt, err := signing.ParseKeyType(keyType)
			if err != nil {
				return fmt.Errorf("--type: %w", err)
			}
			key, pub, err := signing.WriteKeyPair(prefix, kt, password)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (private, keep it safe) and %s (give it to the hosts)\n", key, pub)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "output-prefix", prefix, "write PREFIX.key and PREFIX.pub")
	cmd.Flags().StringVar(&keyType, "type", keyType, "key type: "+signing.KeyTypes)
	return cmd
}

func newSignCmd() *cobra.Command {
	var (
		key, out string
		trust    string
		unsigned bool
	)
	cmd := &cobra.Command{
		Use:   "sign BUNDLE --key ferry.key",
		Short: "Sign a bundle (e.g. one built with --insecure-unsigned), writing BUNDLE.sig too",
		Long: "sign streams the bundle into a new one whose bundle.json is signed with --key, checking every entry\n" +
			"as it copies, and writes the detached BUNDLE.sig and BUNDLE.sha256. Without -o the bundle is replaced.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return errors.New("no signing key: pass --key ferry.key (make one with 'ferry keygen')")
			}
			signer, err := signing.LoadSigner(key, password)
			if err != nil {
				return err
			}
			ropts := []bundle.ReadOption{bundle.WithInsecureSkipSignature()}
			if trust != "" {
				v, err := signing.LoadVerifier(trust)
				if err != nil {
					return err
				}
				ropts = []bundle.ReadOption{bundle.WithVerifier(v)}
			} else if !unsigned {
				return errors.New("say whose signature the bundle carries now: --trust OLD.pub, or --from-unsigned for a bundle built with --insecure-unsigned")
			}
			in, err := bundle.Open(cmd.Context(), args[0], ropts...)
			if err != nil {
				return err
			}
			defer in.Close()
			dst := out
			if dst == "" {
				dst = args[0]
			}
			res, err := bundle.Resign(cmd.Context(), in, dst, signer, ropts)
			if err != nil {
				return fmt.Errorf("sign %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s (key %s), %d bytes, sha256 %x\n", dst, res.Manifest.KeyID, res.Size, res.SHA256)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "private key file (ferry.key or a cosign key)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the signed bundle here (default: replace BUNDLE)")
	cmd.Flags().StringVar(&trust, "trust", "", "public key that must have signed BUNDLE as it is now")
	cmd.Flags().BoolVar(&unsigned, "from-unsigned", false, "BUNDLE is unsigned (built with --insecure-unsigned); its entries are still checked against its manifest")
	return cmd
}
