package main

import (
	"bufio"
	"io"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer"
)

// target is what install and upgrade act on: the host under --root and
// the bundle stream with the reader options of --key.
type target struct {
	host   *installer.LocalHost
	bundle io.Reader
	ropts  []bundle.ReadOption
	close  func() error
}

// openTarget opens the host and the bundle named by the global flags.
func openTarget(opts *globalOptions, stderr io.Writer) (*target, error) {
	host, err := installer.NewLocalHost(opts.Root)
	if err != nil {
		return nil, err
	}
	_, ropts, err := opts.trust.Load(stderr)
	if err != nil {
		return nil, err
	}
	rc, err := bundle.OpenFile(opts.Bundle)
	if err != nil {
		return nil, err
	}
	return &target{host: host, bundle: bufio.NewReaderSize(rc, 1<<20), ropts: ropts, close: rc.Close}, nil
}
