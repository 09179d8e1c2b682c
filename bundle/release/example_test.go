package release_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferry-k3s/ferry/bundle/fetch"
	"github.com/ferry-k3s/ferry/bundle/release"
	"github.com/ferry-k3s/ferry/bundle/release/releasetest"
)

func ExampleFetch() {
	dir, err := os.MkdirTemp("", "ferry-release-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	// A mirror on disk: <dir>/mirror/v1.31.4+k3s1/k3s-arm64 and friends.
	if _, err := releasetest.Write(filepath.Join(dir, "mirror"), "v1.31.4+k3s1", []string{"arm64"}, releasetest.Options{}); err != nil {
		panic(err)
	}
	c, err := fetch.New(fetch.WithCacheDir(filepath.Join(dir, "cache")))
	if err != nil {
		panic(err)
	}
	a, err := release.Fetch(context.Background(), c, release.Source{
		BaseURL: "file://" + filepath.Join(dir, "mirror"),
		Version: "v1.31.4+k3s1",
		Arch:    "arm64",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(a.Names.Binary, a.Binary.Size)
	fmt.Println(a.Names.Airgap, len(a.Airgap.SHA256))
	// Output:
	// k3s-arm64 4096
	// k3s-airgap-images-arm64.tar.zst 64
}
