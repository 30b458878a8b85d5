package metainfo

import (
	"crypto/sha1"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/btfs/btfs/bencode"
)

// decoder accepts what real clients write: dictionaries with unsorted (but
// unique) keys load, with the info-hash taken over the raw bytes.
var decoder = bencode.Options{AllowUnsortedKeys: true}

// Load reads and parses a .torrent file.
func Load(path string) (*MetaInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open torrent: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxTorrentSize+1))
	if err != nil {
		return nil, fmt.Errorf("read torrent %s: %w", path, err)
	}
	mi, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mi, nil
}

// Parse parses and validates the bytes of a .torrent file.
func Parse(data []byte) (*MetaInfo, error) {
	if len(data) > MaxTorrentSize {
		return nil, invalid("file is larger than %d MiB", MaxTorrentSize>>20)
	}
	// Bytes after the top-level dictionary (often a newline) are ignored, as
	// libtorrent ignores them: they are outside the info-hash.
	root, _, err := decoder.ParsePrefix(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if root.Kind() != bencode.Dict {
		return nil, invalid("top level is a %s, not a dictionary", root.Kind())
	}
	infoValue := root.Get("info")
	if infoValue.Kind() != bencode.Dict {
		return nil, invalid("info dictionary is missing")
	}
	mi := &MetaInfo{InfoBytes: infoValue.Raw(), InfoHash: sha1.Sum(infoValue.Raw())}
	info, err := parseInfo(infoValue, mi.InfoHash)
	if err != nil {
		return nil, err
	}
	mi.Info = *info
	mi.Trackers = parseTrackers(root)
	mi.WebSeeds = parseWebSeeds(root.Get("url-list"), len(info.Files) > 1)
	if n, ok := root.Get("creation date").Int(); ok && n > 0 {
		mi.CreationDate = time.Unix(n, 0).UTC()
	}
	mi.Comment = text(root, "comment")
	mi.CreatedBy = text(root, "created by")
	return mi, nil
}

// ParseInfo parses a bare info dictionary (as fetched from peers for a
// magnet link, BEP 9) and checks it against the expected info-hash.
func ParseInfo(raw []byte, want Hash) (*Info, error) {
	if got := Hash(sha1.Sum(raw)); got != want {
		return nil, invalid("info dictionary hashes to %s, want %s", got, want)
	}
	v, err := decoder.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if v.Kind() != bencode.Dict {
		return nil, invalid("info is a %s, not a dictionary", v.Kind())
	}
	return parseInfo(v, want)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func parseInfo(d bencode.Value, hash Hash) (*Info, error) {
	info := &Info{}
	pl, ok := d.Get("piece length").Int()
	switch {
	case !ok:
		return nil, invalid("info.piece length is missing or not an integer")
	case pl <= 0:
		return nil, invalid("info.piece length is %d, must be positive", pl)
	case pl > MaxPieceLength:
		return nil, invalid("info.piece length is %d, more than the limit of %d MiB", pl, MaxPieceLength>>20)
	}
	info.PieceLength = pl

	pieces, ok := d.Get("pieces").Bytes()
	if !ok {
		if d.Has("file tree") {
			return nil, invalid("BitTorrent v2-only torrents are not supported yet (no v1 pieces)")
		}
		return nil, invalid("info.pieces is missing or not a string")
	}
	if len(pieces)%HashSize != 0 {
		return nil, invalid("info.pieces is %d bytes, not a multiple of %d", len(pieces), HashSize)
	}
	info.Pieces = pieces

	if v := d.Get("private"); v.Kind() == bencode.Int {
		n, _ := v.Int()
		info.Private = n == 1
	}

	name, err := parseName(d, hash)
	if err != nil {
		return nil, err
	}
	info.Name = name

	files := d.Get("files")
	switch {
	case files.Kind() == bencode.List:
		info.MultiFile = true
		if info.Files, err = parseFiles(files); err != nil {
			return nil, err
		}
	case files.Kind() != bencode.Invalid:
		return nil, invalid("info.files is a %s, not a list", files.Kind())
	default:
		n, err := parseLength(d, "info.length")
		if err != nil {
			return nil, err
		}
		info.Files = []File{{Path: []string{name}, Length: n}}
	}
	if err := info.layout(); err != nil {
		return nil, err
	}
	return info, nil
}

// parseName reads the torrent's name, preferring name.utf-8 (written by
// clients whose "name" is in a legacy code page).
func parseName(d bencode.Value, hash Hash) (string, error) {
	v := d.Get("name.utf-8")
	if v.Kind() != bencode.String {
		v = d.Get("name")
	}
	raw, ok := v.Bytes()
	switch {
	case v.Kind() == bencode.Invalid:
		return "", invalid("info.name is missing")
	case !ok:
		return "", invalid("info.name is a %s, not a string", v.Kind())
	case len(raw) == 0:
		return "", invalid("info.name is empty")
	}
	if name, ok := sanitizeElement(string(raw)); ok {
		return name, nil
	}
	return hash.String(), nil // nothing usable left, as libtorrent does
}

func parseLength(d bencode.Value, field string) (int64, error) {
	v := d.Get("length")
	n, ok := v.Int()
	switch {
	case v.Kind() == bencode.Invalid:
		return 0, invalid("%s is missing", field)
	case !ok:
		return 0, invalid("%s is a %s, not an integer", field, v.Kind())
	case n < 0:
		return 0, invalid("%s is negative (%d)", field, n)
	case n > MaxLength:
		return 0, invalid("%s is %d, more than the limit of %d", field, n, int64(MaxLength))
	}
	return n, nil
}

func parseFiles(list bencode.Value) ([]File, error) {
	var files []File
	i := 0
	for fv := range list.Items() {
		if i >= MaxFiles {
			return nil, invalid("more than %d files", MaxFiles)
		}
		field := fmt.Sprintf("info.files[%d]", i)
		f, err := parseFile(fv, field)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		i++
	}
	if len(files) == 0 {
		return nil, invalid("info.files is empty")
	}
	for j := range files {
		if files[j].Path == nil { // a pad file without a path
			files[j].Path = []string{".pad", fmt.Sprint(files[j].Length)}
		}
	}
	return files, resolveDuplicates(files)
}

func parseFile(fv bencode.Value, field string) (File, error) {
	if fv.Kind() != bencode.Dict {
		return File{}, invalid("%s is a %s, not a dictionary", field, fv.Kind())
	}
	var f File
	attr, _ := fv.Get("attr").Bytes()
	f.Attr = parseAttr(attr)
	if !f.IsSymlink() {
		n, err := parseLength(fv, field+".length")
		if err != nil {
			return File{}, err
		}
		f.Length = n
	}
	pv := fv.Get("path.utf-8")
	if pv.Kind() != bencode.List {
		pv = fv.Get("path")
	}
	switch {
	case pv.Kind() == bencode.List && pv.Len() > 0:
		path, err := sanitizePath(pv, field+".path")
		if err != nil {
			return File{}, err
		}
		if len(path) == 0 {
			path = []string{"_"} // every element was sanitized away
		}
		f.Path = path
	case f.IsPad():
		// Named later, under .pad/, as libtorrent does.
	case pv.Kind() == bencode.Invalid || pv.Kind() == bencode.List:
		return File{}, invalid("%s.path is missing or empty", field)
	default:
		return File{}, invalid("%s.path is a %s, not a list", field, pv.Kind())
	}
	if f.Path != nil && strings.Contains(f.Path[len(f.Path)-1], "_____padding_file_") {
		f.Attr |= AttrPad // BitComet's pad files predate BEP 47
	}
	if f.IsSymlink() {
		target := fv.Get("symlink path")
		if target.Kind() != bencode.List {
			f.Attr &^= AttrSymlink // no target: libtorrent treats it as a file
			return f, nil
		}
		t, err := sanitizePath(target, field+".symlink path")
		if err != nil {
			return File{}, err
		}
		f.SymlinkTarget = t
	}
	return f, nil
}

func parseAttr(s []byte) Attr {
	var a Attr
	for _, c := range s {
		switch c {
		case 'p':
			a |= AttrPad
		case 'l':
			a |= AttrSymlink
		case 'x':
			a |= AttrExecutable
		case 'h':
			a |= AttrHidden
		}
	}
	return a
}

// layout sets file offsets and the total length and checks them against the
// piece hashes.
func (info *Info) layout() error {
	var off int64
	for i := range info.Files {
		info.Files[i].Offset = off
		off += info.Files[i].Length
		if off > MaxLength {
			return invalid("total length is more than the limit of %d", int64(MaxLength))
		}
	}
	info.Length = off
	if off == 0 {
		return invalid("total length is 0: there is nothing to download")
	}
	want := (off + info.PieceLength - 1) / info.PieceLength
	if want > MaxPieces {
		return invalid("%d pieces, more than the limit of %d", want, MaxPieces)
	}
	if got := int64(len(info.Pieces) / HashSize); got != want {
		return invalid("info.pieces holds %d hashes, but %d bytes in pieces of %d need %d", got, off, info.PieceLength, want)
	}
	return nil
}

// parseTrackers reads announce-list (BEP 12) or, without one, announce.
// Entries of the wrong type are skipped rather than fatal, as other clients do.
func parseTrackers(root bencode.Value) [][]string {
	seen := map[string]bool{}
	tier := func(v bencode.Value) []string {
		var urls []string
		add := func(u bencode.Value) {
			s, ok := u.Str()
			s = strings.TrimSpace(s)
			if ok && s != "" && !seen[s] {
				seen[s] = true
				urls = append(urls, s)
			}
		}
		if v.Kind() == bencode.List {
			for u := range v.Items() {
				add(u)
			}
		} else {
			add(v)
		}
		return urls
	}
	var tiers [][]string
	for t := range root.Get("announce-list").Items() {
		if urls := tier(t); len(urls) > 0 {
			tiers = append(tiers, urls)
		}
	}
	if len(tiers) == 0 {
		if urls := tier(root.Get("announce")); len(urls) > 0 {
			tiers = append(tiers, urls)
		}
	}
	return tiers
}

// parseWebSeeds reads url-list (BEP 19): one string or a list of strings.
// A multi-file torrent's seed URL names a directory, so it gets a trailing
// slash; URLs are escaped (spaces and all) and deduplicated.
func parseWebSeeds(v bencode.Value, multiFile bool) []string {
	var raw []bencode.Value
	if v.Kind() == bencode.List {
		raw = slices.Collect(v.Items())
	} else {
		raw = []bencode.Value{v}
	}
	var seeds []string
	for _, r := range raw {
		s, ok := r.Str()
		s = strings.TrimSpace(s)
		if !ok || s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		s = u.String()
		if multiFile && !strings.HasSuffix(s, "/") {
			s += "/"
		}
		if !slices.Contains(seeds, s) {
			seeds = append(seeds, s)
		}
	}
	return seeds
}

// text reads an optional human-readable string, repairing invalid UTF-8.
func text(d bencode.Value, key string) string {
	v := d.Get(key + ".utf-8")
	if v.Kind() != bencode.String {
		v = d.Get(key)
	}
	s, _ := v.Str()
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
