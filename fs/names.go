package fs

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/btfs/btfs/metainfo"
)

// Inode numbers: a torrent's entries are numbered base+index, where base is
// derived from the torrent's key and index from its file list (0 for its top
// entry, 1+i for file i, then its directories), so a remount shows the same
// numbers. inoIndexBits leaves room for metainfo.MaxFiles files and 15 times
// as many directories; a torrent that needs more gets numbers from go-fuse
// (unique, not stable). inoBaseBits keeps every number below 2^63, for
// programs that read st_ino as a signed number.
const (
	inoIndexBits = 24
	inoBaseBits  = 63 - inoIndexBits
)

// inoBase picks the base of key's inode numbers: from a hash of the key,
// moved on to the next free base in the rare case another torrent shown has
// it. taken says which bases are in use.
func inoBase(key string, taken map[uint64]bool) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	b := h.Sum64() >> (64 - inoBaseBits)
	for b == 0 || taken[b] { // base 0 would hold the mount's root (inode 1)
		b = (b + 1) & (1<<inoBaseBits - 1)
	}
	return b
}

// checkName refuses a name that is not one path element.
func checkName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("fs: %q is not a file name", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("fs: the name %q holds a slash or NUL", name)
	case len(name) > metainfo.MaxElementLength:
		return fmt.Errorf("fs: the name %.40q... is longer than %d bytes", name, metainfo.MaxElementLength)
	}
	return nil
}

// tagLengths are the lengths of key prefix tried, in turn, as the tag that
// tells apart two torrents of one name: short to read, longer in the rare
// case the short one clashes too, the whole key last.
var tagLengths = [...]int{8, 16}

// freeName is the name shown for key's entry, preferring name: name itself
// if free, or name tagged with the start of the key ("name [ab12cd34]",
// before the extension of a file), so the torrent that clashes always gets
// the same name, whatever the order torrents arrive in. taken says which
// names are in use.
func freeName(name, key string, isFile bool, taken func(string) bool) (string, error) {
	if !taken(name) {
		return name, nil
	}
	for _, n := range append(tagLengths[:], len(key)) {
		tagged := metainfo.TagName(name, " ["+key[:min(n, len(key))]+"]", isFile)
		if !taken(tagged) {
			return tagged, nil
		}
	}
	return "", fmt.Errorf("fs: the name %q is taken, and so are its tagged forms: rename the torrent", name)
}
