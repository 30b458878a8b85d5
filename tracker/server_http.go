package tracker

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"

	"github.com/btfs/btfs/bencode"
	"github.com/btfs/btfs/metainfo"
)

// serveAnnounce answers GET /announce. Refusals are bencoded "failure
// reason" replies with status 200: that is what clients parse and show.
func (s *Server) serveAnnounce(w http.ResponseWriter, r *http.Request) {
	buf := s.getBuf()
	defer s.putBuf(buf)
	out, err := s.announceHTTP(r, buf)
	if err != nil {
		s.refused(r.Context(), "announce", r.RemoteAddr, err)
		out = appendFailure(buf.out[:0], err)
	}
	s.writeBencode(w, out)
	buf.out = out[:0] // keep what the reply grew to
}

func (s *Server) announceHTTP(r *http.Request, buf *replyBuf) ([]byte, error) {
	if len(r.URL.RawQuery) > maxAnnounceQuery {
		return nil, errQueryTooLong
	}
	var p announceParams
	if err := parseAnnounceQuery(r.URL.RawQuery, &p); err != nil {
		return nil, err
	}
	src, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return nil, errNoAddress
	}
	ep := endpointOf(netip.AddrPortFrom(s.peerAddr(src.Addr(), p.ip), p.port))
	a := swarmAnnounce{
		infoHash: p.infoHash, peerID: p.peerID, ep: ep, src: sourceOf(src.Addr()),
		seeder: p.left == 0, event: p.event, fams: want4 | want6,
	}
	res, err := s.announce(&a, p.numWant, buf.peers[:0])
	if err != nil {
		return nil, err
	}
	s.httpAnnounces.Add(1)
	buf.peers = res.peers[:0] // keep the grown slice for the next request
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "announce", slog.String("info_hash", p.infoHash.String()),
			slog.String("peer", ep.addr().String()), slog.Int("port", int(p.port)),
			slog.String("event", p.event.String()), slog.Int64("left", p.left), slog.Int("peers", len(res.peers)))
	}
	return s.appendAnnounceReply(buf.out[:0], &res, p.compact, !p.noPeerID), nil
}

// appendAnnounceReply encodes an announce reply: compact peers (BEP 23) and
// peers6 (BEP 7) by default, or the dictionary model of BEP 3. Keys are
// written in sorted order, as bencoding requires.
func (s *Server) appendAnnounceReply(dst []byte, res *swarmResult, compact, withIDs bool) []byte {
	dst = append(dst, "d8:complete"...)
	dst = bencode.AppendInt(dst, int64(res.seeders))
	dst = append(dst, "10:incomplete"...)
	dst = bencode.AppendInt(dst, int64(res.leechers))
	dst = append(dst, "8:interval"...)
	dst = bencode.AppendInt(dst, int64(s.opts.Interval.Seconds()))
	dst = append(dst, "12:min interval"...)
	dst = bencode.AppendInt(dst, int64(s.opts.MinInterval.Seconds()))
	if !compact {
		dst = append(dst, "5:peersl"...)
		for i := range res.peers {
			dst = appendDictPeer(dst, &res.peers[i], withIDs)
		}
		return append(dst, "ee"...)
	}
	var n [2]int
	for i := range res.peers {
		n[res.peers[i].ep.family()]++
	}
	dst = append(dst, "5:peers"...)
	dst = appendCompact(dst, res.peers, fam4, n[fam4])
	if n[fam6] > 0 {
		dst = append(dst, "6:peers6"...)
		dst = appendCompact(dst, res.peers, fam6, n[fam6])
	}
	return append(dst, 'e')
}

// appendCompact writes the n peers of one family as a bencoded string of
// 6-byte (IPv4) or 18-byte (IPv6) entries.
func appendCompact(dst []byte, peers []peer, fam, n int) []byte {
	size := 18
	if fam == fam4 {
		size = 6
	}
	dst = strconv.AppendInt(dst, int64(n*size), 10)
	dst = append(dst, ':')
	for i := range peers {
		e := &peers[i].ep
		if e.family() != fam {
			continue
		}
		if fam == fam4 {
			dst = append(dst, e.ip[12:]...)
		} else {
			dst = append(dst, e.ip[:]...)
		}
		dst = binary.BigEndian.AppendUint16(dst, e.port)
	}
	return dst
}

func appendDictPeer(dst []byte, p *peer, withID bool) []byte {
	var ipBuf [64]byte
	dst = append(dst, "d2:ip"...)
	dst = bencode.AppendBytes(dst, p.ep.addr().AppendTo(ipBuf[:0]))
	if withID {
		dst = append(dst, "7:peer id"...)
		dst = bencode.AppendBytes(dst, p.id[:])
	}
	dst = append(dst, "4:port"...)
	dst = bencode.AppendInt(dst, int64(p.ep.port))
	return append(dst, 'e')
}

func appendFailure(dst []byte, err error) []byte {
	reason := "internal error"
	if f, ok := err.(failure); ok {
		reason = string(f)
	}
	dst = append(dst, "d14:failure reason"...)
	dst = bencode.AppendString(dst, reason)
	return append(dst, 'e')
}

// serveScrape answers GET /scrape (BEP 48) for the info_hash parameters
// given. A scrape without any (a "full scrape") is refused: it is the
// costliest request there is and lets anyone list the torrents tracked.
func (s *Server) serveScrape(w http.ResponseWriter, r *http.Request) {
	buf := s.getBuf()
	defer s.putBuf(buf)
	out, err := s.scrapeHTTP(r, buf)
	if err != nil {
		s.refused(r.Context(), "scrape", r.RemoteAddr, err)
		out = appendFailure(buf.out[:0], err)
	}
	s.writeBencode(w, out)
	buf.out = out[:0] // keep what the reply grew to
}

func (s *Server) scrapeHTTP(r *http.Request, buf *replyBuf) ([]byte, error) {
	if len(r.URL.RawQuery) > maxScrapeQuery {
		return nil, errQueryTooLong
	}
	var hashes [maxScrapeHashes]metainfo.Hash
	n, err := parseScrapeQuery(r.URL.RawQuery, &hashes)
	if err != nil {
		return nil, err
	}
	s.scrapes.Add(1)
	// A dictionary's keys must be sorted and unique.
	hs := hashes[:n]
	slices.SortFunc(hs, func(a, b metainfo.Hash) int { return bytes.Compare(a[:], b[:]) })
	hs = slices.Compact(hs)
	now := s.opts.Now().UnixNano()
	dst := append(buf.out[:0], "d5:filesd"...)
	for _, h := range hs {
		if s.opts.Allow != nil && !s.opts.Allow(h) {
			continue
		}
		st := s.swarm.scrape(h, now)
		dst = bencode.AppendBytes(dst, h[:])
		dst = append(dst, "d8:complete"...)
		dst = bencode.AppendInt(dst, int64(st.Seeders))
		dst = append(dst, "10:downloaded"...)
		dst = bencode.AppendInt(dst, int64(st.Downloaded))
		dst = append(dst, "10:incomplete"...)
		dst = bencode.AppendInt(dst, int64(st.Leechers))
		dst = append(dst, 'e')
	}
	return append(dst, "ee"...), nil
}

func (s *Server) writeBencode(w http.ResponseWriter, b []byte) {
	h := w.Header()
	// Canonical keys set directly, with slices made once: no allocation.
	h["Content-Type"] = s.hdrText
	h["Cache-Control"] = s.hdrNoStore // a reply is for one peer, once
	w.Write(b)
}

// refused counts a refused request and logs it at Debug: refusals are the
// client's problem, and logging them louder would let clients fill the log.
func (s *Server) refused(ctx context.Context, what string, from any, err error) {
	s.refusals.Add(1)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, what+" refused", slog.Any("from", from), slog.String("err", err.Error()))
	}
}
