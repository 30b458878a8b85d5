package watchdir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
)

// The initial scan reports every torrent and magnet file in name order, skips
// other and hidden files, and then says Ready.
func TestInitialScanInNameOrder(t *testing.T) {
	dir := t.TempDir()
	hashes := map[string]metainfo.Hash{}
	for _, name := range []string{"c.torrent", "a.torrent", "D.TORRENT"} {
		data, h := torrent(t, name)
		write(t, filepath.Join(dir, name), data)
		hashes[name] = h
	}
	link, h := magnetLink("b")
	write(t, filepath.Join(dir, "b.magnet"), []byte("\n  "+link+"  \r\n\n"))
	hashes["b.magnet"] = h
	data, _ := torrent(t, "hidden")
	write(t, filepath.Join(dir, ".hidden.torrent"), data)
	write(t, filepath.Join(dir, "notes.txt"), []byte("hello"))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "sub", "e.torrent"), data)

	r := start(t, dir, fast)
	for _, name := range []string{"D.TORRENT", "a.torrent", "b.magnet", "c.torrent"} {
		e := r.expect(Add, name, hashes[name])
		if (e.Magnet != nil) != (name == "b.magnet") || (e.Torrent != nil) == (name == "b.magnet") {
			t.Fatalf("%s: torrent %v magnet %v", name, e.Torrent != nil, e.Magnet)
		}
	}
	r.expect(Ready, "", metainfo.Hash{})
	r.quiet("after the scan")
}

// A file copied in by a program writing in chunks is reported once, after
// its writes settle, whole (a magnet link cut short still parses), and not as
// an error while half written.
func TestCopyInChunksGivesOneAdd(t *testing.T) {
	dir := t.TempDir()
	// Settle is far longer than the pauses between writes, so that a busy
	// machine delaying the writer does not split the copy.
	r := start(t, dir, Options{Settle: 300 * time.Millisecond, ErrorGrace: 600 * time.Millisecond})
	r.expect(Ready, "", metainfo.Hash{})

	data, h := torrent(t, "copied")
	copyInChunks(t, filepath.Join(dir, "copied.torrent"), data)
	r.expect(Add, "copied.torrent", h)

	link, h := magnetLink("copied")
	link += "&tr=http://127.0.0.1:1/announce&tr=http://127.0.0.2:1/announce"
	copyInChunks(t, filepath.Join(dir, "copied.magnet"), []byte(link+"\n"))
	e := r.expect(Add, "copied.magnet", h)
	if e.Magnet.Name != "copied" || len(e.Magnet.Trackers) != 2 {
		t.Fatalf("read before the copy ended: %+v", *e.Magnet)
	}
	r.quiet("after the copies")
}

// copyPace is the pause between a copy's writes.
const copyPace = 10 * time.Millisecond

// copyInChunks writes data to path as a copying program does: in place, in
// a few writes.
func copyInChunks(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for chunk := range slices.Chunk(data, len(data)/4+1) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(copyPace) // a writer's pace between its writes
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// A writer that pauses longer than Settle but less than ErrorGrace gives no
// error: the half file is retried on the next write.
func TestSlowWriterIsRetriedNotAnError(t *testing.T) {
	dir := t.TempDir()
	// ErrorGrace is far longer than the writer's stall, so that a busy
	// machine delaying the writer does not make it an error.
	r := start(t, dir, Options{Settle: fast.Settle, ErrorGrace: time.Second})
	r.expect(Ready, "", metainfo.Hash{})

	data, h := torrent(t, "slow")
	path := filepath.Join(dir, "slow.torrent")
	write(t, path, data[:len(data)/2])
	time.Sleep(2 * fast.Settle) // the writer stalls: the half file is read and fails
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data[len(data)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r.expect(Add, "slow.torrent", h)
	r.quiet("after the slow write")
}

// With the default options a new file is reported within a second.
func TestNewFileReportedWithinASecond(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, Options{})
	r.expect(Ready, "", metainfo.Hash{})
	data, h := torrent(t, "prompt")
	began := time.Now()
	write(t, filepath.Join(dir, "prompt.torrent"), data)
	r.expect(Add, "prompt.torrent", h)
	if took := time.Since(began); took > time.Second {
		t.Fatalf("reported after %v, want within 1s", took)
	}
}

// Moving a file in, renaming one over another (as editors save), removing
// one and moving one out.
func TestMoveRenameOverRemove(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	a, ha := torrent(t, "a")
	write(t, filepath.Join(dir, "a.torrent"), a)
	r := start(t, dir, fast)
	r.expect(Add, "a.torrent", ha)
	r.expect(Ready, "", metainfo.Hash{})

	b, hb := torrent(t, "b")
	write(t, filepath.Join(elsewhere, "b.torrent"), b)
	if err := os.Rename(filepath.Join(elsewhere, "b.torrent"), filepath.Join(dir, "b.torrent")); err != nil {
		t.Fatal(err)
	}
	r.expect(Add, "b.torrent", hb)

	// An editor saves a.torrent: a temporary file renamed over it. The same
	// torrent gives nothing; another gives Remove then Add.
	tmp := filepath.Join(dir, ".a.torrent.swp")
	write(t, tmp, a)
	if err := os.Rename(tmp, filepath.Join(dir, "a.torrent")); err != nil {
		t.Fatal(err)
	}
	r.quiet("after saving the same torrent")
	c, hc := torrent(t, "c")
	write(t, tmp, c)
	if err := os.Rename(tmp, filepath.Join(dir, "a.torrent")); err != nil {
		t.Fatal(err)
	}
	r.expect(Remove, "a.torrent", metainfo.Hash{})
	r.expect(Add, "a.torrent", hc)

	if err := os.Remove(filepath.Join(dir, "a.torrent")); err != nil {
		t.Fatal(err)
	}
	r.expect(Remove, "a.torrent", metainfo.Hash{})
	if err := os.Rename(filepath.Join(dir, "b.torrent"), filepath.Join(elsewhere, "b.torrent")); err != nil {
		t.Fatal(err)
	}
	r.expect(Remove, "b.torrent", metainfo.Hash{})
	r.quiet("after the removals")
}

// A file rewritten in place with another torrent gives Remove then Add.
func TestReplaceInPlace(t *testing.T) {
	dir := t.TempDir()
	a, ha := torrent(t, "a")
	path := filepath.Join(dir, "x.torrent")
	write(t, path, a)
	r := start(t, dir, fast)
	r.expect(Add, "x.torrent", ha)
	r.expect(Ready, "", metainfo.Hash{})
	b, hb := torrent(t, "b")
	write(t, path, b)
	r.expect(Remove, "x.torrent", metainfo.Hash{})
	r.expect(Add, "x.torrent", hb)
}

// A malformed file gives one clear error and affects nothing else; fixed,
// it is added. A broken file that held a torrent keeps it until fixed.
func TestMalformedThenFixed(t *testing.T) {
	dir := t.TempDir()
	good, hg := torrent(t, "good")
	write(t, filepath.Join(dir, "good.torrent"), good)
	r := start(t, dir, fast)
	r.expect(Add, "good.torrent", hg)
	r.expect(Ready, "", metainfo.Hash{})

	bad := filepath.Join(dir, "bad.torrent")
	write(t, bad, []byte("d4:infoi3ee"))
	e := r.expect(Error, "bad.torrent", metainfo.Hash{})
	if !errors.Is(e.Err, metainfo.ErrInvalid) || !contains(e.Err, bad, "info dictionary", "fix or remove") {
		t.Fatalf("error %q: want the path, the reason and what to do", e.Err)
	}
	fixed, hf := torrent(t, "fixed")
	write(t, bad, fixed)
	r.expect(Add, "bad.torrent", hf)

	write(t, bad, []byte("garbage"))
	r.expect(Error, "bad.torrent", metainfo.Hash{})
	write(t, bad, fixed) // the same torrent again: it never left
	r.quiet("after breaking and fixing a file")

	two := filepath.Join(dir, "two.magnet")
	l1, _ := magnetLink("one")
	l2, _ := magnetLink("two")
	write(t, two, []byte(l1+"\n"+l2+"\n"))
	e = r.expect(Error, "two.magnet", metainfo.Hash{})
	if !contains(e.Err, "one magnet link") {
		t.Fatalf("error %q", e.Err)
	}
	r.quiet("after the errors")
}

// A malformed file present at start is reported once, after the scan; so is
// a directory with a torrent's name.
func TestMalformedAtStart(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.magnet"), []byte("magnet:?dn=nohash"))
	good, hg := torrent(t, "good")
	write(t, filepath.Join(dir, "b.torrent"), good)
	if err := os.Mkdir(filepath.Join(dir, "c.torrent"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := start(t, dir, fast)
	r.expect(Add, "b.torrent", hg)
	// A directory is not being written: its error comes at once.
	if e := r.expect(Error, "c.torrent", metainfo.Hash{}); !contains(e.Err, "a directory") {
		t.Fatalf("error %q", e.Err)
	}
	r.expect(Ready, "", metainfo.Hash{})
	// A file just written may still be being written: its error waits.
	e := r.expect(Error, "a.magnet", metainfo.Hash{})
	if !contains(e.Err, "a.magnet", "invalid magnet link") {
		t.Fatalf("error %q", e.Err)
	}
	r.quiet("after the error")
}

// Symlinks to torrent files are followed; a dangling one is an error.
func TestSymlinks(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	data, h := torrent(t, "target")
	target := filepath.Join(elsewhere, "target.torrent")
	write(t, target, data)
	r := start(t, dir, fast)
	r.expect(Ready, "", metainfo.Hash{})

	link := filepath.Join(dir, "linked.torrent")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	r.expect(Add, "linked.torrent", h)
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	r.expect(Remove, "linked.torrent", metainfo.Hash{})

	if err := os.Symlink(filepath.Join(elsewhere, "missing.torrent"), link); err != nil {
		t.Fatal(err)
	}
	e := r.expect(Error, "linked.torrent", metainfo.Hash{})
	if !contains(e.Err, "symlink to a missing file") {
		t.Fatalf("error %q", e.Err)
	}
}

// Removing or renaming the directory ends Run with a clear error.
func TestDirectoryGone(t *testing.T) {
	for _, how := range []string{"removed", "renamed"} {
		t.Run(how, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "torrents")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			data, h := torrent(t, "a")
			write(t, filepath.Join(dir, "a.torrent"), data)
			r := start(t, dir, fast)
			r.expect(Add, "a.torrent", h)
			r.expect(Ready, "", metainfo.Hash{})
			var err error
			if how == "removed" {
				err = os.RemoveAll(dir)
			} else {
				err = os.Rename(dir, filepath.Join(parent, "moved"))
			}
			if err != nil {
				t.Fatal(err)
			}
			timer := time.NewTimer(eventTimeout)
			defer timer.Stop()
			for {
				select {
				case <-r.events: // the files' own removal may come first
					continue
				case err := <-r.done:
					r.done <- err // for the cleanup
					if !errors.Is(err, ErrDirGone) || !contains(err, dir, "mount again") {
						t.Fatalf("Run returned %v, want ErrDirGone naming %s", err, dir)
					}
				case <-timer.C:
					t.Fatalf("Run still running %v after the directory was %s", eventTimeout, how)
				}
				break
			}
		})
	}
}

// New refuses what is not a directory, saying what to give.
func TestNewRefusesNonDirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	write(t, file, nil)
	for _, p := range []string{file, filepath.Join(dir, "missing")} {
		if _, err := New(p, Options{}); !contains(err, p, "directory of .torrent and .magnet files") {
			t.Errorf("New(%s) = %v", p, err)
		}
	}
}
