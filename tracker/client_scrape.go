package tracker

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/btfs/btfs/metainfo"
)

// scrapeURL derives the scrape URL from an announce URL (BEP 48): the last
// path segment's leading "announce" becomes "scrape".
func scrapeURL(u *url.URL) (*url.URL, error) {
	v := *u
	var ok bool
	if v.Path, ok = swapAnnounce(u.Path); !ok {
		return nil, ErrScrapeUnsupported
	}
	if u.RawPath != "" { // keep escapes such as %2F as they were
		v.RawPath, _ = swapAnnounce(u.RawPath)
	}
	return &v, nil
}

func swapAnnounce(path string) (string, bool) {
	i := strings.LastIndexByte(path, '/')
	rest, ok := strings.CutPrefix(path[i+1:], "announce")
	if !ok {
		return "", false
	}
	return path[:i+1] + "scrape" + rest, true
}

func (c *Client) scrapeHTTP(ctx context.Context, u *url.URL, hashes []metainfo.Hash) (map[metainfo.Hash]ScrapeStats, error) {
	su, err := scrapeURL(u)
	if err != nil {
		return nil, err
	}
	var q []byte
	for i, h := range hashes {
		if i > 0 {
			q = append(q, '&')
		}
		q = appendEscaped(append(q, "info_hash="...), h[:])
	}
	body, err := c.get(ctx, withQuery(su, q))
	if err != nil {
		return nil, err
	}
	return parseScrapeReply(body)
}

func parseScrapeReply(body []byte) (map[metainfo.Hash]ScrapeStats, error) {
	v, err := replyDecoder.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("bad reply: %w", err)
	}
	if err := failureOf(v); err != nil {
		return nil, err
	}
	res := make(map[metainfo.Hash]ScrapeStats)
	for k, files := range v.Entries() {
		if string(k) != "files" {
			continue
		}
		for h, d := range files.Entries() {
			if len(h) != metainfo.HashSize {
				continue
			}
			var st ScrapeStats
			for k, val := range d.Entries() {
				switch string(k) {
				case "complete":
					st.Seeders, _ = countOf(val)
				case "incomplete":
					st.Leechers, _ = countOf(val)
				case "downloaded":
					st.Downloaded, _ = countOf(val)
				}
			}
			res[metainfo.Hash(h)] = st
		}
	}
	return res, nil
}
