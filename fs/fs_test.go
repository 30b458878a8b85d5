package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/leakcheck"
	"github.com/btfs/btfs/metainfo"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/fs."))
}

// memSource serves a torrent's bytes from memory, counting opens.
type memSource struct {
	data   []byte
	mu     sync.Mutex
	opens  int
	closes int
	block  chan struct{} // if set, reads wait on it (or on ctx)
}

func (s *memSource) Open(off, length int64) Reader {
	s.mu.Lock()
	s.opens++
	s.mu.Unlock()
	return &memReader{s: s, data: s.data[off : off+length]}
}

type memReader struct {
	s    *memSource
	data []byte
}

func (r *memReader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if r.s.block != nil {
		select {
		case <-r.s.block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return copy(p, r.data[off:]), nil
}

func (r *memReader) Close() error {
	r.s.mu.Lock()
	r.s.closes++
	r.s.mu.Unlock()
	return nil
}

// testTorrent lays out files (pad, symlink, empty and nested ones included)
// over random data.
func testTorrent(t *testing.T) (*metainfo.Info, []byte) {
	info := &metainfo.Info{Name: "album", PieceLength: 1 << 16, MultiFile: true, Files: []metainfo.File{
		{Path: []string{"01 intro.flac"}, Length: 300000},
		{Path: []string{".pad", "1000"}, Length: 1000, Attr: metainfo.AttrPad},
		{Path: []string{"cover", "front.jpg"}, Length: 70001},
		{Path: []string{"cover", "empty"}, Length: 0},
		{Path: []string{"bin", "run.sh"}, Length: 100, Attr: metainfo.AttrExecutable},
		{Path: []string{"latest"}, Attr: metainfo.AttrSymlink, SymlinkTarget: []string{"cover", "front.jpg"}},
		{Path: []string{"deep", "a", "b", "c.txt"}, Length: 5},
	}}
	var off int64
	for i := range info.Files {
		info.Files[i].Offset = off
		off += info.Files[i].Length
	}
	info.Length = off
	data := make([]byte, off)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	return info, data
}

func mount(t *testing.T, info *metainfo.Info, src Source, opts Options) string {
	t.Helper()
	dir, _ := mountM(t, info, src, opts)
	return dir
}

// mountM mounts under t.TempDir() until the test ends.
func mountM(t *testing.T, info *metainfo.Info, src Source, opts Options) (string, *Mounted) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	dir := t.TempDir()
	m, err := Mount(dir, info, src, opts)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		m.Wait()
	})
	return dir, m
}

func TestTreeAndReads(t *testing.T) {
	info, data := testTorrent(t)
	src := &memSource{data: data}
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	dir := mount(t, info, src, Options{MTime: mtime})

	var got []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		got = append(got, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := []string{"./", "album/", "album/01 intro.flac", "album/bin/", "album/bin/run.sh", "album/cover/",
		"album/cover/empty", "album/cover/front.jpg", "album/deep/", "album/deep/a/", "album/deep/a/b/",
		"album/deep/a/b/c.txt", "album/latest"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, f := range info.Files {
		if f.IsPad() || f.IsSymlink() {
			continue
		}
		p := filepath.Join(dir, info.DisplayPath(&f))
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		wantMode := fs.FileMode(0o444)
		if f.Attr&metainfo.AttrExecutable != 0 {
			wantMode = 0o555
		}
		if st.Size() != f.Length || st.Mode().Perm() != wantMode || !st.ModTime().Equal(mtime) {
			t.Errorf("%s: size %d mode %v mtime %v", p, st.Size(), st.Mode(), st.ModTime())
		}
		content, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(content, data[f.Offset:f.Offset+f.Length]) {
			t.Errorf("%s: content differs (%v)", p, err)
		}
	}
	target, err := os.Readlink(filepath.Join(dir, "album/latest"))
	if err != nil || target != "cover/front.jpg" {
		t.Errorf("symlink -> %q, %v", target, err)
	}
	if linked, err := os.ReadFile(filepath.Join(dir, "album/latest")); err != nil || len(linked) != 70001 {
		t.Errorf("reading through the symlink: %d bytes, %v", len(linked), err)
	}

	// 200 random ranges of the big file, through one handle.
	f := info.Files[0]
	fh, err := os.Open(filepath.Join(dir, info.DisplayPath(&f)))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		off := rng.Int64N(f.Length)
		n := rng.Int64N(200000) + 1
		buf := make([]byte, n)
		k, err := fh.ReadAt(buf, off)
		wantN := min(n, f.Length-off)
		if int64(k) != wantN || (err != nil && int64(k) == n) || !bytes.Equal(buf[:k], data[f.Offset+off:f.Offset+off+wantN]) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", off, n, k, err)
		}
	}
}

func TestStableInodesAndStatfs(t *testing.T) {
	info, data := testTorrent(t)
	inos := func() map[string]uint64 {
		dir := mount(t, info, &memSource{data: data}, Options{})
		out := map[string]uint64{}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			st, _ := os.Lstat(p)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = st.Sys().(*syscall.Stat_t).Ino
			return nil
		})
		var sfs syscall.Statfs_t
		if err := syscall.Statfs(dir, &sfs); err != nil {
			t.Fatal(err)
		}
		if got := int64(sfs.Blocks) * sfs.Bsize; got < info.Length || got >= info.Length+sfs.Bsize {
			t.Errorf("statfs size %d, torrent %d", got, info.Length)
		}
		return out
	}
	a, b := inos(), inos()
	if len(a) != 13 {
		t.Fatalf("%d entries", len(a))
	}
	for p, ino := range a {
		if p != "." && b[p] != ino {
			t.Errorf("%s: inode %d then %d", p, ino, b[p])
		}
	}
}

func TestReadOnly(t *testing.T) {
	info, data := testTorrent(t)
	dir := mount(t, info, &memSource{data: data}, Options{})
	p := filepath.Join(dir, "album/cover/front.jpg")
	checks := map[string]error{}
	_, checks["open for writing"] = os.OpenFile(p, os.O_WRONLY, 0)
	_, checks["create"] = os.Create(filepath.Join(dir, "album/new"))
	checks["mkdir"] = os.Mkdir(filepath.Join(dir, "album/d"), 0o755)
	checks["rename"] = os.Rename(p, p+".bak")
	checks["chmod"] = os.Chmod(p, 0o644)
	checks["remove"] = os.Remove(p)
	for what, err := range checks {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", what, err)
		}
	}
}

func TestEachHandleHasItsOwnReader(t *testing.T) {
	info, data := testTorrent(t)
	src := &memSource{data: data}
	dir := mount(t, info, src, Options{})
	p := filepath.Join(dir, "album/01 intro.flac")
	a, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.opens != 2 {
		t.Fatalf("%d readers for two handles", src.opens)
	}
}

// Ctrl-C on a reader blocked on missing data ends it promptly: the kernel
// interrupts (or abandons) its wait, while the request for the data stays
// with the Source, to be answered when the data arrives.
func TestInterruptEndsTheWait(t *testing.T) {
	info, data := testTorrent(t)
	src := &memSource{data: data, block: make(chan struct{})}
	dir := mount(t, info, src, Options{})
	cat := exec.Command("cat", filepath.Join(dir, "album/01 intro.flac"))
	if err := cat.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cat.Wait() }()
	deadline := time.After(10 * time.Second)
	for src.opensNow() == 0 {
		select {
		case <-deadline:
			t.Fatal("cat never opened the file")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cat.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("cat, interrupted while waiting for data, did not exit")
	}
	close(src.block)
}

func TestErrno(t *testing.T) {
	tests := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{context.Canceled, syscall.EINTR},
		{fmt.Errorf("waiting for piece 3: %w", context.Canceled), syscall.EINTR},
		{context.DeadlineExceeded, syscall.EIO},
		{fmt.Errorf("no peer has piece 7: %w", context.DeadlineExceeded), syscall.EIO},
		{syscall.ENOSPC, syscall.ENOSPC},
		{errors.New("anything else"), syscall.EIO},
	}
	for _, tt := range tests {
		if got := errno(tt.err); got != tt.want {
			t.Errorf("errno(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func (s *memSource) opensNow() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// With a read timeout, a read with no data in sight fails with EIO.
func TestReadTimeoutGivesEIO(t *testing.T) {
	info, data := testTorrent(t)
	src := &memSource{data: data, block: make(chan struct{})}
	defer close(src.block)
	dir := mount(t, info, src, Options{ReadTimeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := os.ReadFile(filepath.Join(dir, "album/cover/front.jpg"))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("read: %v, want EIO", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the timeout took %v", d)
	}
}

func TestSingleFileAtTheRoot(t *testing.T) {
	info := &metainfo.Info{Name: "movie.mkv", PieceLength: 1 << 16, Length: 1000,
		Files: []metainfo.File{{Path: []string{"movie.mkv"}, Length: 1000}}}
	data := bytes.Repeat([]byte("x"), 1000)
	dir := mount(t, info, &memSource{data: data}, Options{})
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "movie.mkv" {
		t.Fatalf("root: %v, %v", entries, err)
	}
}

func TestMountErrors(t *testing.T) {
	info, data := testTorrent(t)
	if _, err := Mount(filepath.Join(t.TempDir(), "missing"), info, &memSource{data: data}, Options{}); err == nil || !strings.Contains(err.Error(), "create the directory") {
		t.Errorf("missing mountpoint: %v", err)
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	if _, err := Mount(full, info, &memSource{data: data}, Options{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty mountpoint: %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Mount(f, info, &memSource{data: data}, Options{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as mountpoint: %v", err)
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{
		`/mnt/x`: "/mnt/x", `/mnt/my\040films`: "/mnt/my films", `/a\134b`: `/a\b`, `/tab\011`: "/tab\t", `/odd\04`: `/odd\04`,
	} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}
