package metainfo

import (
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/btfs/btfs/bencode"
)

// sanitizeElement cleans one path element for a POSIX filesystem, the way
// libtorrent does, so that both agree on what a torrent's files are called:
//   - "." and ".." (and elements that become them) are dropped;
//   - "/" and "\" inside an element are characters, not separators: removed;
//   - Unicode text-direction marks, which can disguise an extension, are removed;
//   - control characters and invalid UTF-8 become "_";
//   - an element left empty becomes "_";
//   - an element is cut to MaxElementLength bytes, keeping its extension.
//
// It reports false when the element is dropped.
func sanitizeElement(s string) (string, bool) {
	if s == "." {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1: // invalid UTF-8
			b.WriteByte('_')
		case r == '/' || r == '\\' || isDirectionMark(r):
			// filtered out
		case r < 0x20:
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	switch out {
	case ".", "..":
		return "", false
	case "":
		return "_", true
	}
	return truncateElement(out), true
}

func isDirectionMark(r rune) bool {
	return r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e)
}

// maxKeptExtension is the longest extension kept when an element is cut;
// anything longer is part of the name, not a file type.
const maxKeptExtension = 16

func truncateElement(s string) string {
	if len(s) <= MaxElementLength {
		return s
	}
	stem, ext := splitExt(s)
	if len(ext) > maxKeptExtension {
		stem, ext = s, ""
	}
	return cutToFit(stem, ext)
}

// cutToFit shortens stem so that stem+suffix fits in MaxElementLength bytes,
// without cutting a character in half.
func cutToFit(stem, suffix string) string {
	keep := MaxElementLength - len(suffix)
	if keep >= len(stem) {
		return stem + suffix
	}
	for keep > 0 && !utf8.RuneStart(stem[keep]) {
		keep--
	}
	return stem[:keep] + suffix
}

// splitExt splits "name.ext" into "name" and ".ext"; a leading dot alone
// (".profile") is not an extension.
func splitExt(name string) (string, string) {
	ext := path.Ext(name)
	if ext == name {
		return name, ""
	}
	return name[:len(name)-len(ext)], ext
}

// sanitizePath cleans a bencoded list of path elements.
func sanitizePath(list bencode.Value, field string) ([]string, error) {
	var out []string
	i := 0
	for e := range list.Items() {
		s, ok := e.Str()
		if !ok {
			return nil, invalid("%s[%d] is a %s, not a string", field, i, e.Kind())
		}
		if clean, keep := sanitizeElement(s); keep {
			out = append(out, clean)
		}
		i++
	}
	if len(out) > MaxPathDepth {
		return nil, invalid("%s is %d directories deep, more than the limit of %d", field, len(out), MaxPathDepth)
	}
	return out, nil
}

// resolveDuplicates renames files whose path is already taken, by another file
// or by a directory, to name.1.ext, name.2.ext..., as libtorrent does. Pad files
// are never shown, so they neither collide nor get renamed.
func resolveDuplicates(files []File) error {
	dirs := map[string]bool{}
	for _, f := range files {
		if f.IsPad() {
			continue
		}
		for i := 1; i < len(f.Path); i++ {
			dirs[strings.Join(f.Path[:i], "/")] = true
		}
	}
	taken := make(map[string]bool, len(files))
	for i := range files {
		f := &files[i]
		if f.IsPad() {
			continue
		}
		p := strings.Join(f.Path, "/")
		if !taken[p] && !dirs[p] {
			taken[p] = true
			continue
		}
		dir := strings.Join(f.Path[:len(f.Path)-1], "/")
		stem, ext := splitExt(f.Path[len(f.Path)-1])
		for n := 1; ; n++ {
			if n > MaxSameName {
				return invalid("more than %d files named %q", MaxSameName, p)
			}
			name := cutToFit(stem, "."+strconv.Itoa(n)+ext)
			candidate := name
			if dir != "" {
				candidate = dir + "/" + name
			}
			if !taken[candidate] && !dirs[candidate] {
				taken[candidate] = true
				f.Path[len(f.Path)-1] = name
				break
			}
		}
	}
	return nil
}

// DisplayPath is the file's path as the mount shows it: below the torrent's
// name for a multi-file torrent.
func (info *Info) DisplayPath(f *File) string {
	if !info.MultiFile {
		return f.Path[0]
	}
	return info.Name + "/" + strings.Join(f.Path, "/")
}

// TagName inserts tag into name, before its extension if keepExt (a file:
// "movie.mkv" and " [ab12]" give "movie [ab12].mkv", so players still know
// the type) or at its end (a directory), cutting the stem so the whole fits
// in MaxElementLength bytes.
func TagName(name, tag string, keepExt bool) string {
	stem, ext := name, ""
	if keepExt {
		if stem, ext = splitExt(name); len(ext) > maxKeptExtension {
			stem, ext = name, ""
		}
	}
	return cutToFit(stem, tag+ext)
}
