package tracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/btfs/btfs/bencode"
)

// replyDecoder parses tracker replies. Unsorted keys are accepted: some
// trackers write them that way, and nothing is hashed here.
var replyDecoder = bencode.Options{AllowUnsortedKeys: true}

func (c *Client) announceHTTP(ctx context.Context, u *url.URL, req *AnnounceRequest) (AnnounceResponse, error) {
	body, err := c.get(ctx, withQuery(u, appendAnnounceQuery(nil, req)))
	if err != nil {
		return AnnounceResponse{}, err
	}
	return parseAnnounceReply(body)
}

// appendAnnounceQuery writes req as BEP 3 query parameters, asking for
// compact peers (BEP 23).
func appendAnnounceQuery(dst []byte, req *AnnounceRequest) []byte {
	dst = append(dst, "info_hash="...)
	dst = appendEscaped(dst, req.InfoHash[:])
	dst = append(dst, "&peer_id="...)
	dst = appendEscaped(dst, req.PeerID[:])
	dst = strconv.AppendUint(append(dst, "&port="...), uint64(req.Port), 10)
	dst = strconv.AppendInt(append(dst, "&uploaded="...), max(req.Uploaded, 0), 10)
	dst = strconv.AppendInt(append(dst, "&downloaded="...), max(req.Downloaded, 0), 10)
	dst = strconv.AppendInt(append(dst, "&left="...), max(req.Left, 0), 10)
	dst = append(dst, "&compact=1"...)
	if ev := req.Event.String(); ev != "" {
		dst = append(append(dst, "&event="...), ev...)
	}
	switch {
	case req.Event == EventStopped:
		dst = append(dst, "&numwant=0"...)
	case req.NumWant > 0:
		dst = strconv.AppendInt(append(dst, "&numwant="...), int64(req.NumWant), 10)
	}
	dst = append(dst, "&key="...)
	dst = append(dst, fmt.Sprintf("%08X", req.Key)...)
	if req.IP.IsValid() {
		dst = appendEscaped(append(dst, "&ip="...), []byte(req.IP.String()))
	}
	if req.TrackerID != "" {
		dst = appendEscaped(append(dst, "&trackerid="...), []byte(req.TrackerID))
	}
	return dst
}

// withQuery adds q to the URL's own query (where private trackers keep a
// passkey).
func withQuery(u *url.URL, q []byte) string {
	v := *u
	if v.RawQuery != "" {
		v.RawQuery += "&" + string(q)
	} else {
		v.RawQuery = string(q)
	}
	return v.String()
}

// get fetches a tracker reply. A refusal sent with a non-200 status is
// still reported as the tracker's failure reason.
func (c *Client) get(ctx context.Context, rawURL string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, passkey and all
		}
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPResponse+1))
	if err != nil {
		return nil, fmt.Errorf("reading reply: %w", err)
	}
	if len(body) > maxHTTPResponse {
		return nil, fmt.Errorf("reply over %d bytes", maxHTTPResponse)
	}
	if resp.StatusCode != http.StatusOK {
		if v, err := replyDecoder.Parse(body); err == nil && failureOf(v) != nil {
			return nil, failureOf(v)
		}
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	return body, nil
}

// failureOf returns the reply's failure reason as an error, or nil.
func failureOf(v bencode.Value) error {
	for k, val := range v.Entries() {
		if string(k) == "failure reason" {
			s, ok := val.Str()
			if !ok {
				s = string(val.Raw())
			}
			return &FailureError{Reason: s}
		}
	}
	return nil
}

// parseAnnounceReply reads an HTTP announce reply: compact peers (BEP 23),
// the dictionary model (BEP 3) and peers6 (BEP 7) alike.
func parseAnnounceReply(body []byte) (AnnounceResponse, error) {
	var r AnnounceResponse
	v, err := replyDecoder.Parse(body)
	if err != nil {
		return r, fmt.Errorf("bad reply: %w", err)
	}
	if v.Kind() != bencode.Dict {
		return r, errors.New("bad reply: not a dictionary")
	}
	if err := failureOf(v); err != nil {
		return r, err
	}
	for k, val := range v.Entries() {
		key := string(k)
		var err error
		switch key {
		case "warning message":
			r.Warning, _ = val.Str()
		case "tracker id":
			r.TrackerID, _ = val.Str()
		case "interval":
			r.Interval, err = durationOf(val)
		case "min interval":
			r.MinInterval, err = durationOf(val)
		case "complete":
			r.Seeders, err = countOf(val)
		case "incomplete":
			r.Leechers, err = countOf(val)
		case "peers":
			if b, ok := val.Bytes(); ok {
				r.Peers, err = appendCompactPeers(r.Peers, b, 6)
			} else {
				r.Peers, err = appendDictPeers(r.Peers, val)
			}
		case "peers6":
			b, ok := val.Bytes()
			if !ok {
				return r, errors.New("bad reply: peers6 is not a string")
			}
			r.Peers, err = appendCompactPeers(r.Peers, b, 18)
		}
		if err != nil {
			return r, fmt.Errorf("bad reply: %s: %w", key, err)
		}
	}
	return r, nil
}

// appendCompactPeers decodes 6-byte (IPv4) or 18-byte (IPv6) entries. Port
// 0 entries are dropped: nobody can connect to them.
func appendCompactPeers(dst []Peer, b []byte, size int) ([]Peer, error) {
	if len(b)%size != 0 {
		return dst, fmt.Errorf("%d bytes is not a multiple of %d", len(b), size)
	}
	for ; len(b) > 0; b = b[size:] {
		var ip netip.Addr
		if size == 6 {
			ip = netip.AddrFrom4([4]byte(b))
		} else {
			ip = netip.AddrFrom16([16]byte(b)).Unmap()
		}
		port := uint16(b[size-2])<<8 | uint16(b[size-1])
		if port != 0 {
			dst = append(dst, Peer{Addr: netip.AddrPortFrom(ip, port)})
		}
	}
	return dst, nil
}

// appendDictPeers decodes the dictionary model. Entries whose ip is a host
// name are dropped (we do not resolve names a tracker hands out), as are
// malformed ones: one bad peer should not cost the others.
func appendDictPeers(dst []Peer, list bencode.Value) ([]Peer, error) {
	if list.Kind() != bencode.List {
		return dst, errors.New("neither a string nor a list")
	}
	for d := range list.Items() {
		var p Peer
		var ip netip.Addr
		var port int64
		for k, val := range d.Entries() {
			switch string(k) {
			case "ip":
				s, _ := val.Str()
				ip, _ = netip.ParseAddr(s)
			case "port":
				port, _ = val.Int()
			case "peer id":
				if b, ok := val.Bytes(); ok && len(b) == len(p.ID) {
					p.ID = [20]byte(b)
				}
			}
		}
		if !ip.IsValid() || ip.Zone() != "" || port < 1 || port > 65535 {
			continue
		}
		p.Addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
		dst = append(dst, p)
	}
	return dst, nil
}

// maxIntervalSeconds caps what a tracker can make us wait: a week, far more
// than any tracker asks, and far from time.Duration's overflow.
const maxIntervalSeconds = 7 * 24 * 3600

func durationOf(v bencode.Value) (time.Duration, error) {
	n, ok := v.Int()
	if !ok || n < 0 {
		return 0, errors.New("not a non-negative integer")
	}
	return time.Duration(min(n, maxIntervalSeconds)) * time.Second, nil
}

func countOf(v bencode.Value) (int, error) {
	n, ok := v.Int()
	if !ok || n < 0 {
		return 0, errors.New("not a non-negative integer")
	}
	return int(min(n, 1<<31)), nil
}
