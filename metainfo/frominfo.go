package metainfo

import (
	"fmt"

	"github.com/btfs/btfs/bencode"
)

// FromInfo returns the torrent of a magnet link once its info dictionary has
// come from peers (BEP 9): the dictionary is checked against the info-hash
// want and parsed as ParseInfo does, and the trackers (BEP 12 tiers) and web
// seeds are cleaned up by the rules Parse applies to a .torrent file's
// announce-list and url-list. The result shares memory with infoBytes; its
// Encode writes the .torrent file.
func FromInfo(infoBytes []byte, want Hash, trackers [][]string, webSeeds []string) (*MetaInfo, error) {
	info, err := ParseInfo(infoBytes, want)
	if err != nil {
		return nil, err
	}
	// The trackers and web seeds go through the very code that reads them
	// from a .torrent file, as the bencoded keys it reads.
	extra, err := bencode.Marshal(struct {
		AnnounceList [][]string `bencode:"announce-list,omitempty"`
		URLList      []string   `bencode:"url-list,omitempty"`
	}{trackers, webSeeds})
	if err != nil {
		return nil, fmt.Errorf("metainfo: trackers and web seeds: %w", err)
	}
	root, err := bencode.Parse(extra)
	if err != nil {
		return nil, fmt.Errorf("metainfo: trackers and web seeds: %w", err)
	}
	return &MetaInfo{
		Info:      *info,
		InfoHash:  want,
		InfoBytes: infoBytes,
		Trackers:  parseTrackers(root),
		WebSeeds:  parseWebSeeds(root.Get("url-list"), len(info.Files) > 1),
	}, nil
}
