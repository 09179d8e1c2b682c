package bench

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/ferry-k3s/ferry/internal/demo"
)

// Scale shapes a fixture. Sizes are in MiB.
type Scale struct {
	// Name labels the scale in reports ("large", "small").
	Name string
	// LayerMiB is the compressed size of all distinct image layers.
	LayerMiB int
	// BinaryMiB is the stand-in k3s binary's size.
	BinaryMiB int
	// AirgapMiB is the airgap tarball's size.
	AirgapMiB int
}

// Large is the fixture: 640 MiB of gzip layers over 15 images, a
// 70 MiB k3s binary and a 90 MiB airgap tarball.
var Large = Scale{Name: "large", LayerMiB: 640, BinaryMiB: 70, AirgapMiB: 90}

// Divide returns s with every size divided by n (at least 1 MiB each).
func (s Scale) Divide(name string, n int) Scale {
	return Scale{Name: name, LayerMiB: max(1, s.LayerMiB/n), BinaryMiB: max(1, s.BinaryMiB/n), AirgapMiB: max(1, s.AirgapMiB/n)}
}

// extraImages brings the image count to 15 (demo.Repos has 9).
const extraImages = 6

// gzipRatio is how much gzip shrinks demo layers with BinaryEvery 3
// (measured: 2.87).
const gzipRatio = 2.87

// sizes returns image sizes whose gzip layers total about s.LayerMiB: an
// eighth in the shared base layer, the rest split over the images' own
// layers, in files of 1 MiB.
func (s Scale) sizes() demo.ImageSizes {
	raw := float64(s.LayerMiB) * gzipRatio
	base := max(1, int(raw/8))
	n := len(demo.Repos) + extraImages
	return demo.ImageSizes{BaseFiles: base, FileSize: 1 << 20, AppFiles: max(1, int((raw-float64(base))/float64(n))), BinaryEvery: 3}
}

// World is a running fixture: the demo servers and what the baseline
// downloads by hand.
type World struct {
	Env *demo.Env
	// Images are the image references the bundle carries.
	Images []string
	// Downloads are the URLs of the release assets and charts.
	Downloads []string
}

// StartWorld generates the fixture for s under dir and serves it on
// 127.0.0.1. The caller closes World.Env.
func StartWorld(ctx context.Context, dir string, s Scale) (*World, error) {
	env, err := demo.Start(ctx, dir, demo.Options{
		Sizes: s.sizes(), ExtraImages: extraImages,
		BinarySize: int64(s.BinaryMiB) << 20, AirgapPadding: int64(s.AirgapMiB) << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("start %s fixture: %w", s.Name, err)
	}
	rel := env.ReleaseURL + "/" + strings.ReplaceAll(url.PathEscape(demo.K3sVersion), "+", "%2B")
	return &World{
		Env:    env,
		Images: env.Images(),
		Downloads: []string{
			rel + "/k3s", rel + "/k3s-airgap-images-amd64.tar.zst",
			env.ChartRepo + "/longhorn-1.7.2.tgz", env.ChartRepo + "/nfs-subdir-external-provisioner-4.0.18.tgz",
		},
	}, nil
}
