// Package metainfo models .torrent files (BEP 3): parsing with validation and
// path sanitizing, creation from files on disk, and the arithmetic that maps
// file byte ranges to pieces.
package metainfo

import (
	"errors"
	"time"
)

// Limits that protect memory and sanity when loading a torrent from anyone.
const (
	// MaxTorrentSize bounds a .torrent file: room for MaxPieces hashes
	// (40 MiB) and a large file list.
	MaxTorrentSize = 64 << 20
	// MaxPieces is libtorrent's limit; past it a torrent is either absurd or
	// hostile, and the engine keeps per-piece state for every piece.
	MaxPieces = 1 << 21
	// MaxFiles bounds the file list (each file costs a few hundred bytes of
	// memory here and an inode in the mount).
	MaxFiles = 1 << 20
	// MaxPathDepth bounds directory nesting, as libtorrent does.
	MaxPathDepth = 100
	// MaxPieceLength accepts the largest pieces seen in the wild (libtorrent
	// loads 32767 blocks of 16 KiB); a piece is held in memory while it is
	// downloaded and verified, so the engine may still refuse a large one.
	MaxPieceLength = 512 << 20
	// MaxLength bounds one file and the whole torrent (1 PiB), so sums of
	// lengths can never overflow int64.
	MaxLength = 1 << 50
	// MaxSameName bounds how many files may share one path and be renamed
	// name.1.ext, name.2.ext...; libtorrent gives up likewise.
	MaxSameName = 100
	// MaxElementLength is the longest path element a filesystem accepts.
	MaxElementLength = 255
)

// Recommended piece lengths; outside them a torrent loads with a warning.
const (
	MinSanePieceLength = 16 << 10
	MaxSanePieceLength = 64 << 20
)

// ErrInvalid is wrapped by every error about a torrent's content.
var ErrInvalid = errors.New("invalid torrent")

// MetaInfo is a parsed .torrent file.
type MetaInfo struct {
	Info      Info
	InfoHash  Hash   // SHA-1 of InfoBytes
	InfoBytes []byte // the info dictionary exactly as it appeared in the file

	// Trackers are the announce URLs in BEP 12 tiers. When the file has an
	// announce-list it is used alone (as BEP 12 says); otherwise the single
	// announce URL forms one tier.
	Trackers     [][]string
	WebSeeds     []string  // BEP 19 url-list, normalized and deduplicated
	CreationDate time.Time // zero when absent
	Comment      string
	CreatedBy    string
}

// Info is the info dictionary: what the info-hash covers.
type Info struct {
	// Name is the sanitized name: the file name of a single-file torrent, the
	// top directory of a multi-file one. When nothing usable is left after
	// sanitizing, it is the info-hash in hex.
	Name        string
	PieceLength int64
	Pieces      []byte // concatenated 20-byte SHA-1 hashes, one per piece
	Private     bool   // BEP 27: no DHT, no PEX, trackers only
	MultiFile   bool   // the torrent has a "files" list (even of one file)
	Length      int64  // total bytes, pad files included
	Files       []File // in torrent order, pad files included
}

// File is one entry of a torrent's file list.
type File struct {
	// Path is the sanitized path relative to the torrent's root: below the
	// directory Info.Name for a multi-file torrent, or just [Name] for a
	// single-file one.
	Path   []string
	Length int64
	Offset int64 // where the file starts in the torrent's byte space
	Attr   Attr
	// SymlinkTarget is the sanitized target of a symlink (BEP 47 attr "l"),
	// relative to the torrent's root.
	SymlinkTarget []string
}

// Attr holds the BEP 47 file attributes.
type Attr uint8

// BEP 47 attributes.
const (
	AttrPad        Attr = 1 << iota // "p": padding to align the next file; not shown to users
	AttrSymlink                     // "l"
	AttrExecutable                  // "x"
	AttrHidden                      // "h"
)

// IsPad reports whether the file is a BEP 47 pad file.
func (f *File) IsPad() bool { return f.Attr&AttrPad != 0 }

// IsSymlink reports whether the file is a symlink (BEP 47).
func (f *File) IsSymlink() bool { return f.Attr&AttrSymlink != 0 }
