package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// maxLocalArchive caps a local chart archive or packaged directory.
const maxLocalArchive = 256 << 20

// packageDir packages a local chart directory with the Helm SDK and makes the
// result deterministic: the same files give the same archive bytes.
func packageDir(c cache, src Source) (*Archive, error) {
	ch, err := loader.LoadDir(src.Repo)
	if err != nil {
		return nil, fmt.Errorf("load chart directory %s: %w", src.Repo, err)
	}
	if src.Name != "" && ch.Metadata.Name != src.Name {
		return nil, fmt.Errorf("chart directory %s holds chart %q, not %q: fix the chart name", src.Repo, ch.Metadata.Name, src.Name)
	}
	if src.Version != "" && ch.Metadata.Version != src.Version {
		return nil, fmt.Errorf("chart directory %s holds %s %s, not version %s: fix the chart version", src.Repo, ch.Metadata.Name, ch.Metadata.Version, src.Version)
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("package chart %s: %w", src.Repo, err)
	}
	tmp, err := os.MkdirTemp(c.dir, ".package-*")
	if err != nil {
		return nil, fmt.Errorf("package chart %s: %w", src.Repo, err)
	}
	defer os.RemoveAll(tmp)
	path, err := chartutil.Save(ch, tmp)
	if err != nil {
		return nil, fmt.Errorf("package chart %s: %w", src.Repo, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("package chart %s: %w", src.Repo, err)
	}
	data, err := normalizeArchive(raw)
	if err != nil {
		return nil, fmt.Errorf("package chart %s: %w", src.Repo, err)
	}
	return c.store(ch.Metadata.Name, ch.Metadata.Version, data, nil)
}

// copyArchive copies a local .tgz into the cache byte for byte, with its
// .prov beside it when there is one.
func copyArchive(c cache, src Source) (*Archive, error) {
	data, err := readCapped(src.Repo)
	if err != nil {
		return nil, fmt.Errorf("read chart archive %s: %w", src.Repo, err)
	}
	name, version, err := checkArchive(data, src, src.Repo)
	if err != nil {
		return nil, err
	}
	prov, err := os.ReadFile(src.Repo + ".prov")
	if errors.Is(err, os.ErrNotExist) {
		prov = nil
	} else if err != nil {
		return nil, fmt.Errorf("read provenance %s.prov: %w", src.Repo, err)
	}
	return c.store(name, version, data, prov)
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLocalArchive+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxLocalArchive {
		return nil, fmt.Errorf("larger than %d bytes", maxLocalArchive)
	}
	return data, nil
}

// normalizeArchive rewrites a chart .tgz with fixed timestamps, owners and
// modes, keeping the entry order and contents, so packaging is reproducible.
func normalizeArchive(raw []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	zw.Comment = "Helm"
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		body, err := io.ReadAll(io.LimitReader(tr, maxLocalArchive))
		if err != nil {
			return nil, err
		}
		nh := &tar.Header{
			Name:     h.Name,
			Mode:     0o644,
			Size:     int64(len(body)),
			ModTime:  time.Unix(0, 0).UTC(),
			Typeflag: tar.TypeReg,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(nh); err != nil {
			return nil, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
