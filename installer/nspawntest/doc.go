// Package nspawntest boots throwaway Debian bookworm systems under
// systemd-nspawn, so that tests can run ferry-install against a real
// systemd: build a minimal root once with debootstrap (cached under
// $FERRY_NSPAWN_CACHE, default /var/cache/ferry-nspawn), copy it per
// container, boot it, run commands inside with nsenter, copy files in, and
// power it off and remove the copy when done.
//
// It is test support only: nothing in ferry-install imports it.
package nspawntest
