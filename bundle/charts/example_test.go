package charts_test

import (
	"fmt"

	"github.com/ferry-k3s/ferry/bundle/charts"
)

func ExampleImages() {
	manifests := []byte(`
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: longhorn-manager}
spec:
  template:
    spec:
      containers:
        - name: longhorn-manager
          image: longhornio/longhorn-manager:v1.7.2
          args: ["daemon", "--engine-image", "longhornio/longhorn-engine:v1.7.2", "--port", "9500"]
`)
	images, err := charts.Images(manifests)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ref := range images {
		fmt.Println(ref)
	}
	// Output:
	// docker.io/longhornio/longhorn-engine:v1.7.2
	// docker.io/longhornio/longhorn-manager:v1.7.2
}
