package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"

	"github.com/btfs/btfs/internal/holders"
)

// Detach unmounts the FUSE mount at dir: with umount(2) as root, through
// fusermount3 (or fusermount) otherwise. Lazy detaches it even while in
// use: it vanishes from the tree at once, and the kernel lets go of it when
// the last file under it is closed. A mount in use that is not detached
// lazily gives an error wrapping syscall.EBUSY that names the processes
// using it and says what to do.
func Detach(ctx context.Context, dir string, lazy bool) error {
	flags := 0
	if lazy {
		flags = syscall.MNT_DETACH
	}
	err := syscall.Unmount(dir, flags)
	if errors.Is(err, syscall.EPERM) { // not root
		err = fusermountUnmount(ctx, dir, lazy)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EBUSY):
		return busyError(dir, err)
	}
	return fmt.Errorf("unmount %s: %w", dir, err)
}

// fusermountUnmount asks fusermount3 (or the older fusermount) to unmount dir.
func fusermountUnmount(ctx context.Context, dir string, lazy bool) error {
	args := []string{"-u"}
	if lazy {
		args = append(args, "-z")
	}
	for _, tool := range []string{"fusermount3", "fusermount"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, p, append(args, dir)...).CombinedOutput()
		switch {
		case err == nil:
			return nil
		case bytes.Contains(out, []byte("Device or resource busy")):
			return syscall.EBUSY
		}
		return fmt.Errorf("%s %v: %v: %s", tool, append(args, dir), err, bytes.TrimSpace(out))
	}
	return fmt.Errorf("%w (not root, and neither fusermount3 nor fusermount is installed: install fuse3)", syscall.EPERM)
}

// busyError says who keeps dir busy and what to do about it.
func busyError(dir string, err error) error {
	who := "processes this user cannot see (as root, fuser -vm " + dir + " names them)"
	if ps, more, ferr := holders.Find(dir); ferr == nil && len(ps) > 0 {
		who = holders.Describe(ps, more)
	}
	return fmt.Errorf("unmount %s: %w: it is in use by %s; stop them (or leave the directory), "+
		"or detach it at once with 'btfs unmount --lazy %s': the mount then exits and what they still read fails",
		dir, err, who, dir)
}
