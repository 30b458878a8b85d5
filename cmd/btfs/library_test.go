package main

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
	"github.com/btfs/btfs/metainfo"
)

// --idle-timeout reaches the session: a torrent read and then left alone
// parks (the tracker hears stopped, status says parked), and a new open
// rejoins its swarm and reads exact bytes.
func TestMountIdleTimeoutParks(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	lab := newLibraryLab(t, 1)
	name := lab.names[0]
	mnt := filepath.Join(lab.work, "mnt")
	os.Mkdir(mnt, 0o755)
	testproc.Start(t, lab.work, btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
		"--cache-dir", filepath.Join(lab.work, "cache"), "--idle-timeout", "1s", "--max-active", "3", lab.torrent(name), mnt)
	t.Cleanup(func() { btfs(t, "unmount", "--lazy", mnt) })
	wait.For(t, "the mount", 20*time.Second, func() bool { _, err := os.Stat(filepath.Join(mnt, name)); return err == nil })
	lab.check(t, mnt, name)
	state := func() string {
		code, out, _ := btfs(t, "status", "--json", mnt)
		var st statusJSON
		if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || len(st.Mounts) != 1 {
			return ""
		}
		return st.Mounts[0].State
	}
	wait.For(t, "the torrent to park", 20*time.Second, func() bool {
		s, ok := trackerStats(lab.tracker)
		return ok && s.Seeders == 1 && s.Leechers == 0 && state() == "parked"
	})
	f, err := os.Open(filepath.Join(mnt, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st := state(); st != "active" {
		t.Fatalf("state with a file open: %q, want active", st)
	}
	lab.check(t, mnt, name)
}

// libraryLab is a loopback tracker and one seeder process per torrent, each
// torrent one file of random bytes.
type libraryLab struct {
	work, tracker string
	names         []string
	sums          map[string]string // sha1 hex by name
	ports         map[string]int    // seeder port by name
}

func newLibraryLab(t *testing.T, n int) *libraryLab {
	lab := &libraryLab{work: t.TempDir(), sums: map[string]string{}, ports: map[string]int{}}
	work := lab.work
	lab.tracker = fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))
	testproc.Start(t, work, btfsBin, "tracker", "--listen", lab.tracker, "--udp", "", "--interval", "1m")
	waitListening(t, lab.tracker)
	lab.names = []string{"alpha.bin", "bravo.bin", "charlie.bin", "delta.bin"}[:n]
	for i, name := range lab.names {
		dir := filepath.Join(work, fmt.Sprint("src", i))
		os.Mkdir(dir, 0o755)
		data := make([]byte, 700<<10+i*1111)
		rand.Read(data)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(data)
		lab.sums[name] = hex.EncodeToString(sum[:])
		if code, _, stderr := btfs(t, "create", "-t", "http://"+lab.tracker+"/announce", "-l", "64KiB", "-o", lab.torrent(name), filepath.Join(dir, name)); code != exitOK {
			t.Fatalf("create: %s", stderr)
		}
		port := testproc.FreePort(t)
		testproc.Start(t, work, btfsBin, "seed", "--no-dht", "--listen", "127.0.0.1", "--port", fmt.Sprint(port), "-d", dir, lab.torrent(name))
		waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))
		lab.ports[name] = port
	}
	return lab
}

func (lab *libraryLab) torrent(name string) string { return filepath.Join(lab.work, name+".torrent") }

// check reads name through the mount at mnt and compares its bytes.
func (lab *libraryLab) check(t *testing.T, mnt, name string) {
	t.Helper()
	if got := sha1File(t, filepath.Join(mnt, name)); got != lab.sums[name] {
		t.Fatalf("%s through the mount: sha1 %s, want %s", name, got, lab.sums[name])
	}
}

// btfs mount A B MAGNET DIR: three torrents in one mount, one a magnet link
// (shown as a note until its metadata comes from its x.pe peer), each read
// exactly; the root then holds the three and nothing else.
func TestMountManyArguments(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	lab := newLibraryLab(t, 3)
	mi, err := metainfo.Load(lab.torrent("charlie.bin"))
	if err != nil {
		t.Fatal(err)
	}
	link := fmt.Sprintf("magnet:?xt=urn:btih:%s&dn=charlie.bin&x.pe=127.0.0.1:%d", mi.InfoHash, lab.ports["charlie.bin"])
	mnt := filepath.Join(lab.work, "mnt")
	os.Mkdir(mnt, 0o755)
	mount := testproc.Start(t, lab.work, btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
		"--cache-dir", filepath.Join(lab.work, "cache"), lab.torrent("alpha.bin"), lab.torrent("bravo.bin"), link, mnt)
	t.Cleanup(func() { btfs(t, "unmount", "--lazy", mnt) })
	wait.For(t, "the three torrents", 20*time.Second, func() bool {
		for _, n := range lab.names {
			if fi, err := os.Stat(filepath.Join(mnt, n)); err != nil || fi.Size() < 700<<10 { // not the magnet link's note
				return false
			}
		}
		return true
	})
	for _, n := range lab.names {
		lab.check(t, mnt, n)
	}
	entries, err := os.ReadDir(mnt)
	if err != nil || len(entries) != len(lab.names) {
		t.Fatalf("the mount's root: %v, %v; want the three torrents alone", entries, err)
	}
	code, out, stderr := btfs(t, "status", "--json", mnt)
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); code != exitOK || err != nil || len(st.Mounts) != 3 || len(st.Mountpoints) != 1 {
		t.Fatalf("status --json: exit %d, %v: %s %s", code, err, out, stderr)
	}
	if code, _, stderr := btfs(t, "unmount", mnt); code != exitOK {
		t.Fatalf("unmount: %s", stderr)
	}
	if err := mount.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("mount exited with %v:\n%s", err, mount.Output())
	}
}

// A library mount from a watched directory: three torrents from three
// seeders read exactly; a fourth copied in appears; one whose file is
// deleted disappears while an open handle keeps reading it; btfs status
// lists every torrent.
func TestLibraryWatch(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	lab := newLibraryLab(t, 4)
	names := lab.names
	watch := filepath.Join(lab.work, "watch")
	os.Mkdir(watch, 0o755)
	for _, name := range names[:3] {
		copyFile(t, lab.torrent(name), filepath.Join(watch, name+".torrent"))
	}
	mnt := filepath.Join(lab.work, "mnt")
	os.Mkdir(mnt, 0o755)
	mount := testproc.Start(t, lab.work, btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
		"--cache-dir", filepath.Join(lab.work, "cache"), "--watch", watch, mnt)
	t.Cleanup(func() { btfs(t, "unmount", "--lazy", mnt) })
	shown := func(name string) bool { _, err := os.Stat(filepath.Join(mnt, name)); return err == nil }
	wait.For(t, "the three torrents", 20*time.Second, func() bool { return shown(names[0]) && shown(names[1]) && shown(names[2]) })
	for _, n := range names[:3] {
		lab.check(t, mnt, n)
	}

	copyFile(t, lab.torrent(names[3]), filepath.Join(watch, names[3]+".torrent"))
	wait.For(t, "the fourth torrent", 10*time.Second, func() bool { return shown(names[3]) })
	lab.check(t, mnt, names[3])

	code, out, stderr := btfs(t, "status", "--json", mnt)
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); code != exitOK || err != nil || len(st.Mounts) != 4 {
		t.Fatalf("status --json: exit %d, %v: %s %s", code, err, out, stderr)
	}
	if code, out, _ := btfs(t, "status", mnt); code != exitOK || !strings.Contains(out, "4 torrents") || !strings.Contains(out, names[3]) {
		t.Fatalf("status:\n%s", out)
	}

	// Deleted while open: gone from the tree, the handle reads on.
	f, err := os.Open(filepath.Join(mnt, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	os.Remove(filepath.Join(watch, names[0]+".torrent"))
	wait.For(t, names[0]+" to go", 10*time.Second, func() bool { return !shown(names[0]) })
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("reading a removed torrent's open file: %v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != lab.sums[names[0]] {
		t.Fatalf("removed torrent's open file: sha1 %s, want %s", got, lab.sums[names[0]])
	}
	f.Close()
	if code, _, stderr := btfs(t, "unmount", mnt); code != exitOK {
		t.Fatalf("unmount: %s", stderr)
	}
	if err := mount.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("mount exited with %v:\n%s", err, mount.Output())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// btfs add and btfs remove change a running library mount: a removed
// torrent is gone from the tree at once (by name or by info-hash), an added
// one is shown and read exactly; an unknown name is an error.
func TestLibraryAddRemove(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	lab := newLibraryLab(t, 3)
	names := lab.names
	mnt := filepath.Join(lab.work, "mnt")
	os.Mkdir(mnt, 0o755)
	mount := testproc.Start(t, lab.work, btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
		"--cache-dir", filepath.Join(lab.work, "cache"), lab.torrent(names[0]), lab.torrent(names[1]), mnt)
	t.Cleanup(func() { btfs(t, "unmount", "--lazy", mnt) })
	shown := func(name string) bool { _, err := os.Stat(filepath.Join(mnt, name)); return err == nil }
	wait.For(t, "the two torrents", 20*time.Second, func() bool { return shown(names[0]) && shown(names[1]) })
	wait.For(t, "the control socket", 10*time.Second, func() bool { code, _, _ := btfs(t, "status", mnt); return code == exitOK })

	if code, out, stderr := btfs(t, "remove", mnt, names[1]); code != exitOK || !strings.Contains(out, "removed "+names[1]) {
		t.Fatalf("remove: exit %d: %s %s", code, out, stderr)
	}
	if shown(names[1]) {
		t.Fatalf("%s still shown after btfs remove", names[1])
	}
	if code, out, stderr := btfs(t, "add", mnt, lab.torrent(names[2])); code != exitOK || !strings.Contains(out, "added "+names[2]) {
		t.Fatalf("add: exit %d: %s %s", code, out, stderr)
	}
	lab.check(t, mnt, names[2])
	if code, _, stderr := btfs(t, "add", mnt, lab.torrent(names[2])); code == exitOK || !strings.Contains(stderr, "already") {
		t.Fatalf("a second add of one torrent: exit %d: %s", code, stderr)
	}
	mi, err := metainfo.Load(lab.torrent(names[0]))
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := btfs(t, "remove", mnt, mi.InfoHash.String()); code != exitOK || shown(names[0]) {
		t.Fatalf("remove by info-hash: exit %d: %s", code, stderr)
	}
	if code, _, stderr := btfs(t, "remove", mnt, "no-such-torrent"); code == exitOK || !strings.Contains(stderr, "no torrent") {
		t.Fatalf("remove of an unknown name: exit %d: %s", code, stderr)
	}
	entries, err := os.ReadDir(mnt)
	if err != nil || len(entries) != 1 || entries[0].Name() != names[2] {
		t.Fatalf("the mount's root: %v, %v; want %s alone", entries, err, names[2])
	}
	if code, _, stderr := btfs(t, "unmount", mnt); code != exitOK {
		t.Fatalf("unmount: %s", stderr)
	}
	if err := mount.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("mount exited with %v:\n%s", err, mount.Output())
	}
}
