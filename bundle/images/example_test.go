package images_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/ferry-k3s/ferry/bundle/images"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Two images sharing a base layer are resolved for amd64 and written to
// one archive, where the shared layer is stored once.
func ExampleWriteArchive() {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	base, _ := random.Layer(1024, types.OCILayer)
	var refs []string
	for _, repo := range []string{"web:1", "worker:1"} {
		own, _ := random.Layer(512, types.OCILayer)
		img, _ := mutate.AppendLayers(empty.Image, base, own)
		cf, _ := img.ConfigFile()
		cf.OS, cf.Architecture = "linux", "amd64"
		img, _ = mutate.ConfigFile(img, cf)
		ref, _ := name.ParseReference(host + "/" + repo)
		if err := remote.Write(ref, img); err != nil {
			log.Fatal(err)
		}
		refs = append(refs, ref.String())
	}

	ctx := context.Background()
	resolved, err := images.Resolve(ctx, refs, "amd64")
	if err != nil {
		log.Fatal(err)
	}
	res, err := images.WriteArchive(ctx, io.Discard, resolved, images.WithJobs(2))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d images, %d layers, %d shared\n", len(res.Images), res.Layers, res.SharedLayers)
	// Output: 2 images, 3 layers, 1 shared
}
