package main

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/btfs/btfs/tracker"
	"github.com/urfave/cli/v2"
)

// TestTrackerOptions checks the limit flags' translation: defaults, 0 as
// "no limit" for the per-address ones, networks and bare addresses.
func TestTrackerOptions(t *testing.T) {
	parse := func(args ...string) tracker.ServerOptions {
		t.Helper()
		cmd := trackerCommand()
		var got tracker.ServerOptions
		cmd.Action = func(c *cli.Context) error {
			var err error
			got, err = trackerOptions(c)
			return err
		}
		app := &cli.App{Commands: []*cli.Command{cmd}}
		if err := app.Run(append([]string{"btfs", "tracker"}, args...)); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return got
	}
	o := parse()
	if o.MaxTorrents != tracker.DefaultMaxTorrents || o.PerIPMaxTorrents != tracker.DefaultPerIPMaxTorrents ||
		o.PerIPAnnounceRate != tracker.DefaultPerIPAnnounceRate || o.PerIPAnnounceBurst != tracker.DefaultPerIPAnnounceBurst ||
		o.TrustIPFrom != nil {
		t.Errorf("defaults: %+v", o)
	}
	o = parse("--max-torrents", "500000", "--max-torrents-per-ip", "0", "--announce-rate-per-ip", "0",
		"--trust-ip-from", "10.1.2.3/8,192.168.1.7", "--trust-ip-from", "fd00::/8")
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("fd00::/8")}
	if o.MaxTorrents != 500000 || o.PerIPMaxTorrents != tracker.Unlimited || o.PerIPAnnounceRate != tracker.Unlimited ||
		!slices.Equal(o.TrustIPFrom, want) {
		t.Errorf("flags: %+v", o)
	}
	if _, err := tracker.NewServer(o); err != nil {
		t.Errorf("NewServer refuses the flags' options: %v", err)
	}
}
