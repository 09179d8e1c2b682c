package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer/deploy"
)

// deployFlags are the flags of ferry-install deploy and its subcommands.
type deployFlags struct {
	File              string
	Inventory         string
	Parallel          int
	AcceptNewHostKeys bool
	SkipPreflight     bool
	Installer         string
	ReadyTimeout      time.Duration
	ConnectTimeout    time.Duration
}

func (f *deployFlags) bind(fs *pflag.FlagSet) {
	fs.StringVarP(&f.File, "file", "f", "", "cluster file (cluster.yaml, SPEC §8)")
	fs.StringVarP(&f.Inventory, "inventory", "i", "", "k3s-ansible inventory (groups server and agent) instead of -f; give --bundle and --key")
	fs.IntVar(&f.Parallel, "parallel", 5, "hosts worked on at once: copies, agents, upgrade batches")
	fs.BoolVar(&f.AcceptNewHostKeys, "accept-new-host-keys", false, "record the key of a host known_hosts has no line for (a changed key is always refused)")
	fs.StringVar(&f.Installer, "ferry-install", "", "the ferry-install binary to copy to the hosts (default: this one; give one built for the hosts' arch)")
	fs.DurationVar(&f.ReadyTimeout, "timeout", 5*time.Minute, "how long each node may take to be Ready")
	fs.DurationVar(&f.ConnectTimeout, "connect-timeout", deploy.DefaultConnectTimeout, "bound on each SSH connect and handshake")
}

// options loads the cluster and turns the flags into deploy.Options.
func (f *deployFlags) options(cmd *cobra.Command, opts *globalOptions) (deploy.Options, error) {
	var (
		c   *deploy.Cluster
		err error
	)
	switch {
	case f.File != "" && f.Inventory != "":
		return deploy.Options{}, errors.New("-f and -i: give the cluster file or the inventory, not both")
	case f.File != "":
		c, err = deploy.LoadCluster(f.File)
	case f.Inventory != "":
		c, err = deploy.LoadInventory(f.Inventory)
	default:
		return deploy.Options{}, errors.New("no cluster: pass -f cluster.yaml or -i inventory.yml")
	}
	if err != nil {
		return deploy.Options{}, err
	}
	return deploy.Options{
		Cluster: c, Bundle: opts.Bundle, Key: opts.Key, Installer: f.Installer, Parallel: f.Parallel,
		AcceptNewHostKeys: f.AcceptNewHostKeys, SkipPreflight: f.SkipPreflight,
		DryRun: opts.DryRun, DryRunOutput: dryRunOutput(cmd, opts), Log: cmd.ErrOrStderr(),
		ReadyTimeout: f.ReadyTimeout, ConnectTimeout: f.ConnectTimeout,
	}, nil
}

func newDeployCmd(opts *globalOptions) *cobra.Command {
	f := &deployFlags{}
	cmd := &cobra.Command{
		Use:   "deploy -f cluster.yaml",
		Short: "Roll a whole site cluster out over SSH: every host runs its own ferry-install",
		Long: "deploy verifies the bundle here, connects to every host of the cluster file over SSH (host keys checked\n" +
			"against known_hosts), preflights every host in parallel and changes nothing unless all pass, copies\n" +
			"ferry-install, the bundle and the key to each host (skipped where the host holds the same sha256,\n" +
			"resumed where a copy was cut), then installs the first server, the other servers one at a time and the\n" +
			"agents in parallel, each waited Ready. The token reaches hosts only on SSH stdin into 0600 files.\n" +
			"A rerun leaves hosts that are already done alone and sends them nothing. Each host's full log is kept\n" +
			"in cluster.yaml.logs/HOST.log. --dry-run prints the plan, host by host with every command, and\n" +
			"contacts no host. Exits 7 when some hosts failed. --root does not apply: give root: per host.",
		Example: "  ferry-install deploy -f cluster.yaml --dry-run\n" +
			"  ferry-install deploy -f cluster.yaml --accept-new-host-keys\n" +
			"  ferry-install deploy -i inventory.yml --bundle edge.ferry --key ferry.pub\n" +
			"  ferry-install deploy status -f cluster.yaml",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			do, err := f.options(cmd, opts)
			if err != nil {
				return err
			}
			res, err := runLive(cmd, opts, do, deploy.Deploy)
			return printResult(cmd, opts, res, err)
		},
	}
	f.bind(cmd.PersistentFlags())
	cmd.Flags().BoolVar(&f.SkipPreflight, "skip-preflight", false, "go on when a host's preflight FAILs (printed) and pass --skip-preflight to its install")
	cmd.AddCommand(newDeployStatusCmd(opts, f), newDeployUninstallCmd(opts, f), newDeployUpgradeCmd(opts, f))
	return cmd
}

func newDeployStatusCmd(opts *globalOptions, f *deployFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show every host: reachable, bundle and version, role, service, node Ready",
		Long:  "status asks each host's own ferry-install status over SSH, in parallel, and changes nothing. Exits 7\nwhen some hosts cannot be reached or asked.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			do, err := f.options(cmd, opts)
			if err != nil {
				return err
			}
			st, err := deploy.Status(cmd.Context(), do)
			if st != nil {
				var perr error
				if opts.JSON {
					perr = bundle.WriteJSON(cmd.OutOrStdout(), st)
				} else {
					perr = st.WriteTable(cmd.OutOrStdout())
				}
				if err == nil {
					err = perr
				}
			}
			return err
		},
	}
}

func newDeployUninstallCmd(opts *globalOptions, f *deployFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "uninstall",
		Short: "Uninstall k3s from every host: agents first, then servers, the first server last",
		Long: "uninstall runs each host's own ferry-install uninstall (which removes exactly what it placed), then\n" +
			"removes deploy's work directory there. A host that fails does not stop the others; exits 7 when some\n" +
			"failed. The token file beside the cluster file is kept.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			do, err := f.options(cmd, opts)
			if err != nil {
				return err
			}
			res, err := runLive(cmd, opts, do, deploy.Uninstall)
			return printResult(cmd, opts, res, err)
		},
	}
}

func newDeployUpgradeCmd(opts *globalOptions, f *deployFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "upgrade --bundle NEW",
		Short: "Roll a new bundle out: servers one at a time, then agents in batches of --parallel",
		Long: "upgrade verifies the new bundle here, copies ferry-install, the bundle and the key to every host not on it\n" +
			"yet, then runs each node's own ferry-install upgrade: the servers one at a time (never two down at once),\n" +
			"then the agents in batches of --parallel. Every node must be Ready before the next node or batch starts.\n" +
			"A node that does not come back Ready rolls itself back; the first failure stops the rollout, names the\n" +
			"host and what it runs now, leaves the hosts after it untouched, prints the command that resumes, and\n" +
			"exits 7. The same command resumes: hosts already on the new bundle are skipped. Afterwards, point\n" +
			"bundle: in the cluster file at the new bundle.",
		Example: "  ferry-install deploy upgrade -f cluster.yaml --bundle factory-edge-1.5.0.ferry",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			do, err := f.options(cmd, opts)
			if err != nil {
				return err
			}
			res, err := runLive(cmd, opts, do, deploy.Upgrade)
			return printResult(cmd, opts, res, err)
		},
	}
}

// printResult prints what a run did per host (a table, or JSON) and
// returns err: a *deploy.HostsError when some hosts failed.
func printResult(cmd *cobra.Command, opts *globalOptions, res *deploy.Result, err error) error {
	if res == nil || (res.DryRun && err == nil && !opts.JSON) {
		return err
	}
	w := cmd.OutOrStdout()
	if opts.JSON {
		out := struct {
			*deploy.Result
			Error string `json:"error,omitempty"`
		}{Result: res}
		if err != nil {
			out.Error = err.Error()
		}
		if perr := bundle.WriteJSON(w, out); err == nil {
			err = perr
		}
		return err
	}
	if res.TokenCreated != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "generated the cluster token in %s (0600): keep it with the cluster file; every node joins with it\n", res.TokenCreated)
	}
	writeHostTable(w, res)
	return err
}

func writeHostTable(w io.Writer, res *deploy.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tADDRESS\tROLE\tOUTCOME\tSENT")
	for _, h := range res.Hosts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.Name, h.Address, h.Role, h.Outcome, byteCount(h.BytesSent))
	}
	tw.Flush()
	for _, h := range res.Hosts {
		if h.Error != "" {
			fmt.Fprintf(w, "\n%s failed: %s\n", h.Name, h.Error)
		}
	}
}

func byteCount(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// runLive runs fn. On a terminal (not --json, NO_COLOR or TERM=dumb, not a
// dry run) stderr shows a live table of every host's current step instead
// of one line per step; the hosts' logs get everything either way.
func runLive(cmd *cobra.Command, opts *globalOptions, do deploy.Options, fn func(context.Context, deploy.Options) (*deploy.Result, error)) (*deploy.Result, error) {
	f, ok := cmd.ErrOrStderr().(*os.File)
	if !ok || opts.JSON || opts.DryRun || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" || !term.IsTerminal(int(f.Fd())) {
		return fn(cmd.Context(), do)
	}
	events := make(chan deploy.Event)
	do.Events, do.Log = events, nil
	lt := newLiveTable(do.Cluster)
	done := make(chan struct{})
	var res *deploy.Result
	var err error
	go func() {
		defer close(done)
		res, err = fn(cmd.Context(), do)
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case e := <-events:
			lt.apply(e)
		case <-tick.C:
			lt.draw(f, time.Now())
		case <-done:
			lt.draw(f, time.Now())
			return res, err
		}
	}
}

// liveTable is the per-host table deploy redraws on a terminal.
type liveTable struct {
	order []string
	rows  map[string]*liveRow
	drawn int // lines drawn last time, to move back over
}

type liveRow struct {
	step, state string
	sent        int64
	since       time.Time
}

func newLiveTable(c *deploy.Cluster) *liveTable {
	lt := &liveTable{rows: map[string]*liveRow{}}
	for _, n := range append(append([]deploy.Node{}, c.Servers...), c.Agents...) {
		lt.order = append(lt.order, n.ID())
		lt.rows[n.ID()] = &liveRow{step: "waiting", state: "-"}
	}
	lt.order = append(lt.order, "local")
	lt.rows["local"] = &liveRow{step: "waiting", state: "-"}
	return lt
}

func (lt *liveTable) apply(e deploy.Event) {
	id := e.Host
	if id == "" {
		id = "local"
	}
	r := lt.rows[id]
	if r == nil {
		return
	}
	if e.State == "progress" {
		r.sent = e.BytesSent
		return
	}
	r.step, r.state, r.sent, r.since = e.Step, e.State, e.BytesSent, e.At
	if e.Err != "" {
		first, _, _ := strings.Cut(e.Err, "\n")
		r.step += ": " + first
	}
}

// draw moves back over the last drawing and prints the table again, each
// line cut to 150 columns so that it does not wrap.
func (lt *liveTable) draw(w io.Writer, now time.Time) {
	var b strings.Builder
	if lt.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", lt.drawn)
	}
	lines := lt.lines(now)
	for _, l := range lines {
		if len(l) > 150 {
			l = l[:150]
		}
		b.WriteString("\x1b[2K" + l + "\n")
	}
	lt.drawn = len(lines)
	io.WriteString(w, b.String())
}

func (lt *liveTable) lines(now time.Time) []string {
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATE\tFOR\tSENT\tSTEP")
	for _, id := range lt.order {
		r := lt.rows[id]
		for_ := "-"
		if !r.since.IsZero() {
			for_ = now.Sub(r.since).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, r.state, for_, byteCount(r.sent), r.step)
	}
	tw.Flush()
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}
