package fs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// mountTable is where the kernel lists this process's mounts.
const mountTable = "/proc/self/mountinfo"

// btfsMountedAt reports whether a btfs FUSE mount sits at the absolute path
// dir in this process's mount namespace.
func btfsMountedAt(dir string) (bool, error) {
	f, err := os.Open(mountTable)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// "36 35 98:0 /root /mnt/x rw,noatime shared:1 - fuse.btfs btfs ro,...":
		// the mount point is the fifth field, the type follows the " - ".
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || unescapeMountPath(fields[4]) != dir {
			continue
		}
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && fields[i+1] == "fuse."+fsName {
				return true, nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read %s: %w", mountTable, err)
	}
	return false, nil
}

// unescapeMountPath undoes the octal escapes (\040 for a space, \011, \012,
// \134) the kernel writes in mountinfo paths.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// absMountpoint is dir as the mount table shows it.
func absMountpoint(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}
