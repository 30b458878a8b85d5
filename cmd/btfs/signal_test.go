package main

import (
	"fmt"
	"github.com/btfs/btfs/internal/testproc"
	"io"
	"net/http"
	"testing"
)

// btfs tracker serves until SIGINT, then shuts down cleanly with status 0.
func TestTrackerProcessShutsDownOnSignal(t *testing.T) {
	port := testproc.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := testproc.Start(t, t.TempDir(), btfsBin, "tracker", "--listen", addr, "--udp", addr)
	waitListening(t, addr)
	resp, err := http.Get("http://" + addr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("/stats: %s %q", resp.Status, body)
	}
	p.Stop()
	if p.Err() != nil {
		t.Fatalf("exit after SIGINT: %v\n%s", p.Err(), p.Output())
	}
}
