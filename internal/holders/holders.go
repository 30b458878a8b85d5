// Package holders finds the processes that keep a directory busy (what
// fuser -m shows): those with a file under it open, mapped into memory, or
// as their working or root directory. It reads /proc only: it never looks
// at the directory itself, which may be a mount whose server does not
// answer.
package holders

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Limits on one scan, so that a busy machine answers quickly and the
// message stays readable.
const (
	// MaxProcesses is the most processes Find returns.
	MaxProcesses = 20
	// maxUsesPerProcess is the most uses listed for one process.
	maxUsesPerProcess = 3
)

// Process is a process that uses files under the directory.
type Process struct {
	PID  int
	Name string   // the command name (/proc/PID/comm)
	Uses []string // "cwd", "root", "fd 3 /mnt/x/a.mkv", "mmap /mnt/x/a.mkv"
}

func (p Process) String() string {
	return fmt.Sprintf("pid %d (%s: %s)", p.PID, p.Name, strings.Join(p.Uses, ", "))
}

// Find lists the processes (up to MaxProcesses, by PID) that use dir or
// anything under it, among those whose /proc entries this process may read.
// More reports whether some were left out.
func Find(dir string) (ps []Process, more bool, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, false, fmt.Errorf("holders of %s: %w", dir, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false, fmt.Errorf("holders of %s: %w", dir, err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	for _, pid := range pids {
		uses := usesOf(pid, abs)
		if len(uses) == 0 {
			continue
		}
		if len(ps) == MaxProcesses {
			return ps, true, nil
		}
		ps = append(ps, Process{PID: pid, Name: commOf(pid), Uses: uses})
	}
	return ps, false, nil
}

// Describe writes ps for a message: "pid 12 (cat: fd 3 /mnt/x/a), ...".
func Describe(ps []Process, more bool) string {
	parts := make([]string, 0, len(ps)+1)
	for _, p := range ps {
		parts = append(parts, p.String())
	}
	if more {
		parts = append(parts, "and more")
	}
	return strings.Join(parts, ", ")
}

// under reports whether path is dir or below it.
func under(path, dir string) bool {
	path = strings.TrimSuffix(path, " (deleted)")
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

func usesOf(pid int, dir string) []string {
	base := "/proc/" + strconv.Itoa(pid)
	var uses []string
	add := func(u string) bool {
		if len(uses) < maxUsesPerProcess {
			uses = append(uses, u)
		}
		return len(uses) < maxUsesPerProcess
	}
	for _, link := range []string{"cwd", "root"} {
		if p, err := os.Readlink(base + "/" + link); err == nil && under(p, dir) {
			add(link)
		}
	}
	fds, _ := os.ReadDir(base + "/fd") // unreadable (another user's): skipped
	for _, fd := range fds {
		if p, err := os.Readlink(base + "/fd/" + fd.Name()); err == nil && under(p, dir) {
			if !add("fd " + fd.Name() + " " + p) {
				return uses
			}
		}
	}
	for _, p := range mappedUnder(base+"/maps", dir) {
		if !add("mmap " + p) {
			break
		}
	}
	return uses
}

// mappedUnder lists the files under dir that a process maps, once each.
func mappedUnder(maps, dir string) []string {
	f, err := os.Open(maps)
	if err != nil {
		return nil
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "7f..-7f.. r--s 00000000 00:2d 2 /mnt/x/a.mkv": the path is the
		// sixth field on, when there is one.
		fields := strings.SplitN(sc.Text(), " ", 6)
		if len(fields) < 6 {
			continue
		}
		p := strings.TrimLeft(fields[5], " ")
		if under(p, dir) && !slices.Contains(found, p) {
			found = append(found, p)
		}
	}
	return found
}

func commOf(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
