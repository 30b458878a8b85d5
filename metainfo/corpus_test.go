package metainfo

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLibtorrentCorpus loads libtorrent's test torrents (testdata/libtorrent,
// BSD licence) and checks the outcome libtorrent's own tests expect.
func TestLibtorrentCorpus(t *testing.T) {
	type check func(t *testing.T, mi *MetaInfo)
	paths := func(want ...string) check {
		return func(t *testing.T, mi *MetaInfo) {
			var got []string
			for i := range mi.Info.Files {
				got = append(got, mi.Info.DisplayPath(&mi.Info.Files[i]))
			}
			if !slices.Equal(got, want) {
				t.Errorf("files = %q, want %q", got, want)
			}
		}
	}
	numFiles := func(n int) check {
		return func(t *testing.T, mi *MetaInfo) {
			if len(mi.Info.Files) != n {
				t.Errorf("%d files, want %d", len(mi.Info.Files), n)
			}
		}
	}
	loads := func(t *testing.T, mi *MetaInfo) {}
	symlink := func(file int, target string) check {
		return func(t *testing.T, mi *MetaInfo) {
			f := mi.Info.Files[file]
			if !f.IsSymlink() || mi.Info.Name+"/"+strings.Join(f.SymlinkTarget, "/") != target {
				t.Errorf("file %d: symlink %v to %q, want a link to %q", file, f.IsSymlink(), f.SymlinkTarget, target)
			}
		}
	}
	loadTests := map[string]check{
		"base": loads, "parent_path": paths("temp/bar"), "hidden_parent_path": loads,
		"single_multi_file": paths("temp/foo/bar"), "url_list": loads, "url_list2": loads, "url_list3": loads,
		"httpseed": loads, "empty_httpseed": loads, "long_name": loads, "unordered": loads, "large": loads,
		"large_piece_size": func(t *testing.T, mi *MetaInfo) {
			if mi.Info.PieceLength != 32767*16384 {
				t.Errorf("piece length %d", mi.Info.PieceLength)
			}
		},
		"empty-files-1": numFiles(7), "empty-files-2": numFiles(7), "empty-files-3": numFiles(7),
		"empty-files-4": numFiles(7), "empty-files-5": numFiles(7),
		"sample": loads, "collection": loads, "collection2": loads, "dht_nodes": loads,
		"similar": loads, "similar2": loads, "v2_hybrid": loads,
		"empty_path":       paths("temp/_/_"),
		"empty_path_multi": paths("temp/abcde", "temp/_", "temp/_.1"),
		"backslash_path":   paths("temp/_/_/bar"),
		// A "/" inside an element is a character, never a separator.
		"slash_path":             paths("temp/_/_/bar"),
		"slash_path2":            paths("temp/abc....def/_/bar"),
		"slash_path3":            paths("temp....abc"),
		"absolute_filename":      paths("temp/abcde", "temp/foobar"),
		"duplicate_files":        paths("temp/foo/bar.txt", "temp/foo/bar.1.txt"),
		"invalid_directory_name": paths("test2/_/foo", "test2/_/foo.1"),
		"invalid_name2": func(t *testing.T, mi *MetaInfo) {
			if mi.Info.Name != "b61560c2918f463768cd122b6d2fdd47b77bdb35" || mi.InfoHash.String() != mi.Info.Name {
				t.Errorf("name %q, info-hash %s", mi.Info.Name, mi.InfoHash)
			}
		},
		"invalid_name3": func(t *testing.T, mi *MetaInfo) {
			if mi.Info.Name != "foobar " {
				t.Errorf("name %q", mi.Info.Name)
			}
		},
		"invalid_filename":  numFiles(2),
		"invalid_filename2": numFiles(3),
		"pad_file": func(t *testing.T, mi *MetaInfo) {
			if len(mi.Info.Files) != 2 || mi.Info.Files[0].IsPad() || !mi.Info.Files[1].IsPad() {
				t.Errorf("files %+v", mi.Info.Files)
			}
		},
		"pad_file_no_path": func(t *testing.T, mi *MetaInfo) {
			f := mi.Info.Files[1]
			if !f.IsPad() || strings.Join(f.Path, "/") != ".pad/2124" {
				t.Errorf("pad file %+v", f)
			}
		},
		"whitespace_url": func(t *testing.T, mi *MetaInfo) {
			if len(mi.Trackers) == 0 || mi.Trackers[0][0] != "udp://test.com/announce" {
				t.Errorf("trackers %q", mi.Trackers)
			}
		},
		"creation_date": func(t *testing.T, mi *MetaInfo) {
			if mi.CreationDate.Unix() != 1234567 {
				t.Errorf("creation date %v", mi.CreationDate)
			}
		},
		"no_creation_date": func(t *testing.T, mi *MetaInfo) {
			if !mi.CreationDate.IsZero() {
				t.Errorf("creation date %v", mi.CreationDate)
			}
		},
		"url_seed":                    webSeeds("http://test.com/file"),
		"url_seed_multi":              webSeeds("http://test.com/file/"),
		"url_seed_multi_single_file":  webSeeds("http://test.com/file/temp/foo/bar.txt"),
		"url_seed_multi_space":        webSeeds("http://test.com/test%20file/foo%20bar/"),
		"url_seed_multi_space_nolist": webSeeds("http://test.com/test%20file/foo%20bar/"),
		"duplicate_web_seeds": func(t *testing.T, mi *MetaInfo) {
			if len(mi.WebSeeds) != 3 {
				t.Errorf("web seeds %q", mi.WebSeeds)
			}
		},
		"symlink1":          symlink(1, "temp/a/b/bar"),
		"symlink2":          numFiles(5),
		"symlink_zero_size": loads,
		"symlink_filtered_path": func(t *testing.T, mi *MetaInfo) {
			paths("temp/a/_/bar", "temp/a/_/foo")(t, mi)
			symlink(1, "temp/a/_/bar")(t, mi)
		},
		"overlapping_symlinks": loads,
	}
	rejectTests := map[string]string{
		"missing_piece_len":  "piece length is missing",
		"invalid_piece_len":  "piece length is missing or not an integer",
		"negative_piece_len": "piece length is -16384",
		"no_name":            "name is missing",
		// bad_name is a damaged file: its info dictionary repeats a key.
		"bad_name":           "duplicate dictionary key",
		"invalid_name":       "name is a integer",
		"missing_path_list":  "path is missing",
		"invalid_path_list":  "path[0] is a integer",
		"invalid_symlink":    "path[4] is a list",
		"invalid_info":       "info dictionary is missing",
		"string":             "top level is a string",
		"negative_size":      "length is negative",
		"negative_file_size": "length is negative",
		"invalid_file_size":  "length is a list",
		"zero":               "total length is 0",
		"zero2":              "total length is 0",
		"invalid_pieces":     "pieces is missing",
		"unaligned_pieces":   "not a multiple of 20",
		"many_pieces":        "more than the limit of 2097152",
		"no_files":           "files is empty",
		// libtorrent gives up on the same file with too_many_duplicate_filenames.
		"duplicate_files2":    "more than 100 files named",
		"v2_deep_recursion":   "nested deeper than 100",
		"v2_overlong_integer": "leading zero",
		// v2-only: out of scope until BEP 52 is supported; refused clearly.
		"v2_unordered_files": "v2-only torrents are not supported",
		"v2_only":            "v2-only torrents are not supported",
	}

	for name, check := range loadTests {
		t.Run(name, func(t *testing.T) {
			mi, err := Load(filepath.Join("testdata/libtorrent", name+".torrent"))
			if err != nil {
				t.Fatalf("libtorrent loads it; we say: %v", err)
			}
			check(t, mi)
			checkLayout(t, &mi.Info)
		})
	}
	for name, want := range rejectTests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata/libtorrent", name+".torrent"))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want an invalid-torrent error mentioning %q", err, want)
			}
		})
	}
}

func webSeeds(want ...string) func(t *testing.T, mi *MetaInfo) {
	return func(t *testing.T, mi *MetaInfo) {
		if !slices.Equal(mi.WebSeeds, want) {
			t.Errorf("web seeds %q, want %q", mi.WebSeeds, want)
		}
	}
}

// checkLayout checks the invariants every loaded torrent must keep.
func checkLayout(t *testing.T, info *Info) {
	t.Helper()
	var off int64
	for i, f := range info.Files {
		if f.Offset != off || len(f.Path) == 0 {
			t.Fatalf("file %d: offset %d (want %d), path %q", i, f.Offset, off, f.Path)
		}
		for _, e := range f.Path {
			if e == "" || e == "." || e == ".." || strings.ContainsAny(e, "/\x00") || len(e) > MaxElementLength {
				t.Fatalf("file %d: unsafe path element %q", i, e)
			}
		}
		off += f.Length
	}
	if off != info.Length || int64(info.NumPieces()) != (off+info.PieceLength-1)/info.PieceLength {
		t.Fatalf("length %d, %d pieces of %d", info.Length, info.NumPieces(), info.PieceLength)
	}
}
