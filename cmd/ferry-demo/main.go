// Command ferry-demo runs Ferry end to end on generated fixtures, with no
// internet: it starts (in this process, on 127.0.0.1) an OCI registry, a
// k3s release server and a Helm chart repository, builds and signs a
// bundle from them, verifies it, installs it into temporary roots as a k3s
// server and as an agent (--no-start: there is no k3s binary here, the
// release server's k3s is a stand-in script), prints what landed where and
// the join commands, uninstalls, and cleans up. `make demo` runs it.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/bundle/builder"
	"github.com/ferry-k3s/ferry/installer"
	"github.com/ferry-k3s/ferry/internal/demo"
	"github.com/ferry-k3s/ferry/manifests"
	"github.com/ferry-k3s/ferry/signing"
)

func main() {
	var keep string
	var arches []string
	cmd := &cobra.Command{
		Use:           "ferry-demo",
		Short:         "Build, verify and install a bundle from generated fixtures, offline",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), keep, arches)
		},
	}
	cmd.Flags().StringVar(&keep, "keep", "", "work in this directory and keep it (default: a temp dir, removed at the end)")
	cmd.Flags().StringSliceVar(&arches, "arch", []string{"amd64", "arm64"}, "architectures the demo bundle carries")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ferry-demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, keep string, arches []string) error {
	dir := keep
	if dir == "" {
		d, err := os.MkdirTemp("", "ferry-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	step := func(f string, a ...any) { fmt.Fprintf(w, "\n==> "+f+"\n", a...) }

	step("starting a registry, a k3s release server and a chart repository on 127.0.0.1")
	env, err := demo.Start(ctx, filepath.Join(dir, "world"), demo.Options{Arches: arches})
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Fprintf(w, "registry %s (%d images x %d arches), releases %s, charts %s\nspec %s\n", env.Registry, len(demo.Repos), len(arches), env.ReleaseURL, env.ChartRepo, env.SpecPath)

	step("ferry build -f %s -o %s --key %s", env.SpecPath, filepath.Join(dir, "out"), env.KeyPath)
	signer, err := signing.LoadSigner(env.KeyPath, signing.StaticPass([]byte(env.Password)))
	if err != nil {
		return err
	}
	sum, err := builder.Build(ctx, builder.Options{SpecPath: env.SpecPath, OutDir: filepath.Join(dir, "out"), Signer: signer, CacheDir: filepath.Join(dir, "cache"), Log: w})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s: %d entries, %d images, %d bytes, %d requests, %s\n", sum.Bundle, sum.Entries, sum.Images, sum.Size, sum.Requests, sum.Duration.Round(1e6))

	step("ferry verify %s --key %s", sum.Bundle, env.PubPath)
	v, err := signing.LoadVerifier(env.PubPath)
	if err != nil {
		return err
	}
	rep, err := bundle.VerifyFile(ctx, sum.Bundle, bundle.WithVerifier(v))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "verified: signature by %s, %d entries, detached .sig ok: %v\n", rep.Manifest.KeyID, len(rep.Manifest.Entries), rep.Detached)
	if err := bundle.WriteSummary(w, rep.Manifest); err != nil {
		return err
	}

	site := installer.SiteValues{"nfs-subdir-external-provisioner": {"nfs": map[string]any{"server": "nfs.site.internal", "path": "/exports/k3s"}}}
	serverRoot := filepath.Join(dir, "root-server")
	step("ferry-install server --root %s --no-start --set nfs-subdir-external-provisioner.nfs.server=nfs.site.internal ...", serverRoot)
	res, err := install(ctx, sum.Bundle, v, serverRoot, manifests.Node{Role: manifests.RoleServer, ClusterInit: true, TLSSANs: []string{"10.0.0.10"}}, site)
	if err != nil {
		return err
	}
	if err := tree(w, serverRoot); err != nil {
		return err
	}
	joinServer, joinAgent := res.JoinCommands(installer.JoinOptions{Address: "10.0.0.10", Bundle: filepath.Base(sum.Bundle), Key: "ferry.pub"})
	fmt.Fprintf(w, "\njoin further servers (one at a time):\n  %s\njoin agents:\n  %s\n", joinServer, joinAgent)

	agentRoot := filepath.Join(dir, "root-agent")
	step("ferry-install agent --root %s --no-start --server https://10.0.0.10:6443 --token ...", agentRoot)
	if _, err := install(ctx, sum.Bundle, v, agentRoot, manifests.Node{Role: manifests.RoleAgent, Server: "https://10.0.0.10:6443", Token: res.Token}, nil); err != nil {
		return err
	}
	if err := tree(w, agentRoot); err != nil {
		return err
	}

	step("ferry-install uninstall --root %s", serverRoot)
	host, err := installer.NewLocalHost(serverRoot)
	if err != nil {
		return err
	}
	if _, err := installer.Uninstall(ctx, installer.UninstallOptions{RunOptions: installer.RunOptions{Host: host}}); err != nil {
		return err
	}
	left := 0
	filepath.WalkDir(serverRoot, func(_ string, d fs.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			left++
		}
		return nil
	})
	fmt.Fprintf(w, "files left in the server root after uninstall: %d\n", left)
	if keep == "" {
		step("done; removing %s", dir)
	} else {
		step("done; kept %s", dir)
	}
	return nil
}

func install(ctx context.Context, bundlePath string, v signing.Verifier, root string, node manifests.Node, site installer.SiteValues) (*installer.InstallResult, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	host, err := installer.NewLocalHost(root)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(bundlePath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return installer.Install(ctx, installer.InstallOptions{RunOptions: installer.RunOptions{Host: host}, Bundle: bufio.NewReaderSize(f, 1<<20), ReadOptions: []bundle.ReadOption{bundle.WithVerifier(v)}, Node: node, SiteValues: site, Arch: "amd64", Init: installer.InitSystemd})
}

// tree prints every file under root with its mode and size.
func tree(w io.Writer, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(p, root+"/")
		if info.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			fmt.Fprintf(w, "  %-60s -> %s\n", rel, target)
			return nil
		}
		fmt.Fprintf(w, "  %-60s %v %9d\n", rel, info.Mode().Perm(), info.Size())
		return nil
	})
}
