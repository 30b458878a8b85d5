package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/btfs/btfs/metainfo"
)

// UDP refusals. They are short on purpose: see handlePacket.
const (
	errUDPConnID   failure = "bad connection id"
	errUDPProtocol failure = "bad protocol"
)

// ListenUDP opens a UDP socket for ServeUDP on addr ("host:port").
func ListenUDP(ctx context.Context, addr string) (net.PacketConn, error) {
	var lc net.ListenConfig
	conn, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("tracker: listen udp %s: %w", addr, err)
	}
	return conn, nil
}

// ServeUDP answers BEP 15 requests on conn until ctx is done, then returns
// nil. It reads with UDPWorkers goroutines, all finished before it returns.
// The conn stays open: it belongs to the caller. A read error that cannot
// pass (the conn was closed) ends it with that error.
func (s *Server) ServeUDP(ctx context.Context, conn net.PacketConn) error {
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("tracker: udp: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A past deadline wakes every worker blocked in a read.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	pio := newPacketIO(conn)
	errs := make([]error, s.opts.UDPWorkers)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			if errs[i] = s.udpWorker(ctx, pio); errs[i] != nil {
				cancel() // one worker failing for good means the socket did
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Server) udpWorker(ctx context.Context, pio packetIO) error {
	in := make([]byte, maxUDPRequest+1) // one spare byte tells an oversized packet
	buf := &replyBuf{
		out:   make([]byte, 0, udpAnnounceHdrLen+max(6*maxUDPPeers4, 18*maxUDPPeers6)),
		peers: make([]peer, 0, maxUDPPeers4),
	}
	var backoff time.Duration
	for {
		n, from, err := pio.read(in)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("tracker: udp: %w", err)
			}
			// Something transient (out of buffers, say): pause rather than
			// spin, as net/http does for Accept errors.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("udp read", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if n > maxUDPRequest {
			s.refusals.Add(1)
			continue
		}
		if reply := s.handlePacket(ctx, in[:n], from, buf); reply != nil {
			if err := pio.write(reply, from); err != nil {
				s.log.Debug("udp write", "to", from, "err", err)
			}
		}
	}
}

// handlePacket answers one datagram; nil means no reply.
//
// An error reply is only sent when it is no larger than the packet that
// caused it: anyone can forge a UDP source, and the tracker must not be a
// way to send a victim more bytes than the attacker spent. (Real replies
// need a valid connection id, which proves the source.)
func (s *Server) handlePacket(ctx context.Context, pkt []byte, from netip.AddrPort, buf *replyBuf) []byte {
	var req udpRequest
	err := parseUDPRequest(pkt, &req)
	if err == errUDPRunt {
		s.refusals.Add(1)
		return nil
	}
	var out []byte
	if err == nil {
		out, err = s.udpRequest(ctx, &req, from, buf)
	}
	if err == nil {
		return out
	}
	s.refused(ctx, "udp", from, err)
	reason := "internal error"
	if f, ok := err.(failure); ok {
		reason = string(f)
	}
	if udpErrorHdrLen+len(reason) > len(pkt) {
		return nil
	}
	return appendUDPError(buf.out[:0], req.txID, reason)
}

func (s *Server) udpRequest(ctx context.Context, req *udpRequest, from netip.AddrPort, buf *replyBuf) ([]byte, error) {
	now := s.opts.Now()
	switch req.action {
	case actionConnect:
		if req.connID != udpProtocolID {
			return nil, errUDPProtocol
		}
		s.udpConnects.Add(1)
		out := appendUDPReplyHeader(buf.out[:0], actionConnect, req.txID)
		return binary.BigEndian.AppendUint64(out, s.connIDs.mint(from.Addr(), now, &buf.mac)), nil
	case actionAnnounce, actionScrape:
		if !s.connIDs.valid(req.connID, from.Addr(), now, &buf.mac) {
			return nil, errUDPConnID
		}
	}
	if req.action == actionScrape {
		s.scrapes.Add(1)
		out := appendUDPReplyHeader(buf.out[:0], actionScrape, req.txID)
		for i := 0; i < len(req.hashes); i += 20 {
			h := metainfo.Hash(req.hashes[i : i+20])
			var st ScrapeStats // a disallowed torrent reads as unknown: replies are positional
			if s.opts.Allow == nil || s.opts.Allow(h) {
				st = s.swarm.scrape(h, now.UnixNano())
			}
			out = appendUDPScrapeEntry(out, st)
		}
		return out, nil
	}
	return s.announceUDP(ctx, req, from, buf)
}

// announceUDP answers a BEP 15 announce. The reply carries peers of the
// request's own address family: 6-byte entries to IPv4, 18-byte to IPv6.
func (s *Server) announceUDP(ctx context.Context, req *udpRequest, from netip.AddrPort, buf *replyBuf) ([]byte, error) {
	a := &req.announce
	if a.port == 0 {
		return nil, errBadPort
	}
	if a.event > EventStopped {
		return nil, errBadEvent
	}
	src := from.Addr().Unmap()
	var claimed netip.Addr
	fams, limit, ipLen := want6, maxUDPPeers6, 16
	if src.Is4() {
		claimed = a.ip // the field is IPv4 only
		fams, limit, ipLen = want4, maxUDPPeers4, 4
	}
	ep := endpointOf(netip.AddrPortFrom(s.peerAddr(src, claimed), a.port))
	numWant := int(a.numWant)
	if numWant < 0 {
		numWant = s.opts.DefaultNumWant
	}
	sa := swarmAnnounce{
		infoHash: a.infoHash, peerID: a.peerID, ep: ep, src: sourceOf(src),
		seeder: a.left == 0, event: a.event, fams: fams,
	}
	res, err := s.announce(&sa, min(numWant, limit), buf.peers[:0])
	if err != nil {
		return nil, err
	}
	s.udpAnnounces.Add(1)
	buf.peers = res.peers[:0]
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "announce", slog.String("info_hash", a.infoHash.String()),
			slog.String("peer", ep.addr().String()), slog.Int("port", int(a.port)), slog.String("proto", "udp"),
			slog.String("event", a.event.String()), slog.Int64("left", a.left), slog.Int("peers", len(res.peers)))
	}
	out := appendUDPReplyHeader(buf.out[:0], actionAnnounce, req.txID)
	out = binary.BigEndian.AppendUint32(out, uint32(s.opts.Interval.Seconds()))
	out = binary.BigEndian.AppendUint32(out, uint32(res.leechers))
	out = binary.BigEndian.AppendUint32(out, uint32(res.seeders))
	for i := range res.peers {
		e := &res.peers[i].ep
		out = append(out, e.ip[16-ipLen:]...) // IPv4 is the last 4 of 16 bytes
		out = binary.BigEndian.AppendUint16(out, e.port)
	}
	return out, nil
}

// packetIO reads and writes datagrams with netip addresses, without the
// per-packet allocation of net.Addr when conn is a *net.UDPConn.
type packetIO struct {
	udp *net.UDPConn
	pc  net.PacketConn
}

func newPacketIO(conn net.PacketConn) packetIO {
	udp, _ := conn.(*net.UDPConn)
	return packetIO{udp: udp, pc: conn}
}

func (p packetIO) read(b []byte) (int, netip.AddrPort, error) {
	if p.udp != nil {
		return p.udp.ReadFromUDPAddrPort(b)
	}
	n, addr, err := p.pc.ReadFrom(b)
	ua, ok := addr.(*net.UDPAddr)
	if err != nil || !ok {
		return 0, netip.AddrPort{}, err // a non-UDP source reads as a runt, dropped
	}
	return n, ua.AddrPort(), nil
}

func (p packetIO) write(b []byte, to netip.AddrPort) error {
	if p.udp != nil {
		_, err := p.udp.WriteToUDPAddrPort(b, to)
		return err
	}
	_, err := p.pc.WriteTo(b, net.UDPAddrFromAddrPort(to))
	return err
}
