package metainfo

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// What Create writes is stricter than what Parse reads: Parse loads what
// other clients made (odd piece lengths and names load, with a warning or
// cleaned), Create makes only torrents that every client takes as they are.

// ErrBadName is wrapped by CheckName's errors.
var ErrBadName = errors.New("bad torrent name")

// ErrBadPieceLength is wrapped by CheckPieceLength's errors.
var ErrBadPieceLength = errors.New("bad piece length")

// CheckPieceLength refuses a piece length that Create should not write: one
// that is not a power of two (BEP 52 requires one; many clients assume one),
// or one outside MinSanePieceLength to MaxSanePieceLength (below a 16 KiB
// block a piece cannot be requested whole; Parse warns outside the range).
func CheckPieceLength(pl int64) error {
	switch {
	case pl < MinSanePieceLength || pl > MaxSanePieceLength:
		return fmt.Errorf("%w: %d bytes is outside 16 KiB to %d MiB: choose a power of two in that range (e.g. 256KiB)",
			ErrBadPieceLength, pl, MaxSanePieceLength>>20)
	case !isPowerOfTwo(pl):
		return fmt.Errorf("%w: %d bytes is not a power of two: choose one (e.g. 16KiB, 256KiB, 4MiB)", ErrBadPieceLength, pl)
	}
	return nil
}

func isPowerOfTwo(n int64) bool { return n > 0 && n&(n-1) == 0 }

// CheckName refuses a torrent name that is not one safe path component:
// empty, "." or "..", holding a '/' or '\', a control character (NUL
// included), invalid UTF-8, a text-direction mark, or longer than
// MaxElementLength bytes. Such a name is rewritten or dropped by every
// client that loads the torrent (Parse included), and as a file name it
// could point outside the directory it is saved in.
func CheckName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %q %s: give a plain file name", ErrBadName, name, why) }
	switch {
	case name == "":
		return bad("is empty")
	case name == "." || name == "..":
		return bad("names a directory, not a file")
	case strings.ContainsAny(name, `/\`):
		return bad("holds a path separator")
	case !utf8.ValidString(name):
		return bad("is not valid UTF-8")
	case len(name) > MaxElementLength:
		return bad(fmt.Sprintf("is longer than %d bytes", MaxElementLength))
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return bad("holds a control character")
		}
		if isDirectionMark(r) {
			return bad("holds a text-direction mark")
		}
	}
	if clean, ok := sanitizeElement(name); !ok || clean != name { // whatever Parse would change
		return bad("would be renamed by the clients that load it")
	}
	return nil
}
