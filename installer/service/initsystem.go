package service

// The files that tell which init system a root runs. They are the one
// rule for it: the installer reads them to choose which service files to
// write (systemd units or OpenRC scripts), Detect to choose the manager it
// drives.
var (
	// SystemdMarkers exist where systemd is the init system: the runtime
	// directory of a running systemd, or its binary in either usual place.
	SystemdMarkers = []string{"/run/systemd/system", "/lib/systemd/systemd", "/usr/lib/systemd/systemd"}
	// OpenRCMarkers exist where OpenRC is installed.
	OpenRCMarkers = []string{"/sbin/openrc-run", "/usr/sbin/openrc-run"}
)

// Init system names InitOf returns.
const (
	InitSystemd = "systemd"
	InitOpenRC  = "openrc"
)

// InitOf returns InitSystemd when any SystemdMarkers exist, else
// InitOpenRC when any OpenRCMarkers do, else "". exists reports whether a
// host path exists (resolved inside the root by the caller).
func InitOf(exists func(hostPath string) bool) string {
	for _, p := range SystemdMarkers {
		if exists(p) {
			return InitSystemd
		}
	}
	for _, p := range OpenRCMarkers {
		if exists(p) {
			return InitOpenRC
		}
	}
	return ""
}
