package fetch_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferry-k3s/ferry/bundle/fetch"
)

func ExampleClient_Get() {
	dir, err := os.MkdirTemp("", "ferry-fetch-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "hello.txt")
	if err := os.WriteFile(src, []byte("hello\n"), 0o644); err != nil {
		panic(err)
	}

	c, err := fetch.New(fetch.WithCacheDir(filepath.Join(dir, "cache")))
	if err != nil {
		panic(err)
	}
	want := fetch.Want{SHA256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}
	for range 2 {
		f, err := c.Get(context.Background(), "file://"+src, want)
		if err != nil {
			panic(err)
		}
		fmt.Println(f.Size, f.FromCache)
	}
	// Output:
	// 6 false
	// 6 true
}
