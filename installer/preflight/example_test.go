package preflight_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ferry-k3s/ferry/installer/preflight"
)

func ExampleRun() {
	// A prepared host tree stands in for "/" (its proc and sys too).
	r, err := preflight.Run(context.Background(), preflight.Options{Root: "testdata/healthy", Role: preflight.RoleAgent})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"memory", "ports", "hostname"} {
		c, _ := r.Check(name)
		fmt.Println(c.Status, c.Name, c.Detail)
	}
	fmt.Println("failed:", r.Failed())
	// Output:
	// PASS memory 7947 MiB of memory
	// PASS ports free: 10250/tcp, 8472/udp
	// PASS hostname edge-server-1 (must be unique in the cluster)
	// failed: false
}

func ExampleReport_WriteTable() {
	r := &preflight.Report{Checks: []preflight.Check{
		{Name: "hostname", Status: preflight.StatusFail, Detail: `the hostname is "localhost"`, Fix: "hostnamectl set-hostname NAME"},
		{Name: "swap", Status: preflight.StatusWarn, Detail: "swap is active on /swap.img", Fix: "swapoff -a\nand remove the swap lines in /etc/fstab"},
		{Name: "cpu", Status: preflight.StatusPass, Detail: "4 CPUs"},
	}}
	r.WriteTable(os.Stdout)
	err := r.Err()
	fmt.Println(errors.Is(err, preflight.ErrPreflight), err)
	// Output:
	// STATUS  CHECK     DETAIL                       FIX
	// FAIL    hostname  the hostname is "localhost"  hostnamectl set-hostname NAME
	// WARN    swap      swap is active on /swap.img  swapoff -a
	//                                                and remove the swap lines in /etc/fstab
	// PASS    cpu       4 CPUs
	// true preflight failed: hostname (fix them, or pass --skip-preflight to install anyway)
}
