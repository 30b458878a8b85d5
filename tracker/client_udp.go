package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"time"

	"github.com/btfs/btfs/metainfo"
)

func (c *Client) announceUDP(ctx context.Context, u *url.URL, req *AnnounceRequest) (AnnounceResponse, error) {
	conn, stop, err := dialUDP(ctx, u)
	if err != nil {
		return AnnounceResponse{}, err
	}
	defer stop()
	size := 6
	if !conn.RemoteAddr().(*net.UDPAddr).AddrPort().Addr().Unmap().Is4() {
		size = 18 // BEP 15: an IPv6 exchange carries 18-byte peers
	}
	numWant := int32(-1)
	switch {
	case req.Event == EventStopped:
		numWant = 0
	case req.NumWant > 0:
		numWant = int32(min(req.NumWant, math.MaxInt32))
	}
	r, err := c.exchange(ctx, conn, u.Host, actionAnnounce, func(connID uint64, txID uint32) []byte {
		return appendUDPAnnounce(nil, connID, txID, req, numWant)
	})
	if err != nil {
		return AnnounceResponse{}, err
	}
	resp := AnnounceResponse{
		Interval: time.Duration(min(r.interval, maxIntervalSeconds)) * time.Second,
		Seeders:  int(min(r.seeders, math.MaxInt32)),
		Leechers: int(min(r.leechers, math.MaxInt32)),
	}
	if resp.Peers, err = appendCompactPeers(nil, r.peers, size); err != nil {
		return AnnounceResponse{}, fmt.Errorf("bad reply: peers: %w", err)
	}
	return resp, nil
}

func (c *Client) scrapeUDP(ctx context.Context, u *url.URL, hashes []metainfo.Hash) (map[metainfo.Hash]ScrapeStats, error) {
	if len(hashes) == 0 || len(hashes) > maxScrapeHashes {
		return nil, fmt.Errorf("a UDP scrape takes 1 to %d hashes, not %d", maxScrapeHashes, len(hashes))
	}
	conn, stop, err := dialUDP(ctx, u)
	if err != nil {
		return nil, err
	}
	defer stop()
	r, err := c.exchange(ctx, conn, u.Host, actionScrape, func(connID uint64, txID uint32) []byte {
		return appendUDPScrape(nil, connID, txID, hashes)
	})
	if err != nil {
		return nil, err
	}
	res := make(map[metainfo.Hash]ScrapeStats, len(hashes))
	for i, b := 0, r.scrape; i < len(hashes) && len(b) >= udpScrapeEntryLen; i, b = i+1, b[udpScrapeEntryLen:] {
		res[hashes[i]] = ScrapeStats{
			Seeders:    int(binary.BigEndian.Uint32(b)),
			Downloaded: int(binary.BigEndian.Uint32(b[4:])),
			Leechers:   int(binary.BigEndian.Uint32(b[8:])),
		}
	}
	return res, nil
}

// dialUDP opens a socket connected to the tracker, so that only its replies
// reach us and an ICMP "port unreachable" fails the read at once. stop
// closes it; so does the end of ctx, which wakes a blocked read.
func dialUDP(ctx context.Context, u *url.URL) (net.Conn, func(), error) {
	if u.Port() == "" {
		return nil, nil, errors.New("UDP tracker URL without a port")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", u.Host)
	if err != nil {
		return nil, nil, err
	}
	unhook := context.AfterFunc(ctx, func() { conn.Close() })
	return conn, func() { unhook(); conn.Close() }, nil
}

// exchange sends the request build makes, connecting first unless a
// connection id for host is cached. If the tracker refuses a cached (or, by
// the end of long retransmissions, stale) id, it connects again, once: the
// tracker may have restarted with a new secret.
func (c *Client) exchange(ctx context.Context, conn net.Conn, host string, action uint32, build func(connID uint64, txID uint32) []byte) (udpReply, error) {
	for try := 0; ; try++ {
		id, obtained, cached, err := c.connID(ctx, conn, host)
		if err != nil {
			return udpReply{}, err
		}
		txID := rand.Uint32()
		r, err := c.roundTrip(ctx, conn, build(id, txID), txID, action)
		var fe *FailureError
		stale := cached || c.now().Sub(obtained) > clientConnIDTTL
		if errors.As(err, &fe) && try == 0 && stale {
			c.forgetConnID(host)
			continue
		}
		return r, err
	}
}

// connID returns a connection id for host, from the cache or by connecting.
func (c *Client) connID(ctx context.Context, conn net.Conn, host string) (id uint64, obtained time.Time, cached bool, err error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.connIDs[host]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.id, e.expires.Add(-clientConnIDTTL), true, nil
	}
	txID := rand.Uint32()
	r, err := c.roundTrip(ctx, conn, appendUDPConnect(nil, txID), txID, actionConnect)
	if err != nil {
		return 0, time.Time{}, false, err
	}
	now = c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.connIDs) >= maxCachedConnIDs {
		clear(c.connIDs)
	}
	c.connIDs[host] = cachedConnID{id: r.connID, expires: now.Add(clientConnIDTTL)}
	return r.connID, now, false, nil
}

func (c *Client) forgetConnID(host string) {
	c.mu.Lock()
	delete(c.connIDs, host)
	c.mu.Unlock()
}

// roundTrip sends pkt and waits for the reply with transaction id txID,
// sending again after UDPTimeout·2^n (BEP 15). Packets with another
// transaction id are strays from earlier tries and are skipped.
func (c *Client) roundTrip(ctx context.Context, conn net.Conn, pkt []byte, txID, action uint32) (udpReply, error) {
	buf := make([]byte, maxUDPResponse+1)
	timeout := c.udpTimeout
	for try := 0; try <= c.udpRetries; try, timeout = try+1, 2*timeout {
		if try > 0 {
			c.log.Debug("udp tracker: no reply, sending again", "to", conn.RemoteAddr(), "try", try)
		}
		if _, err := conn.Write(pkt); err != nil {
			return udpReply{}, ctxOr(ctx, err)
		}
		// Deadlines are wall-clock time whatever c.now says.
		if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return udpReply{}, ctxOr(ctx, err)
		}
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() && ctx.Err() == nil {
					break
				}
				return udpReply{}, ctxOr(ctx, err)
			}
			if n > maxUDPResponse {
				return udpReply{}, fmt.Errorf("reply over %d bytes", maxUDPResponse)
			}
			r, err := parseUDPReply(buf[:n])
			switch {
			case err == errUDPRunt || r.txID != txID:
				continue
			case err != nil:
				return udpReply{}, fmt.Errorf("bad reply: %w", err)
			case r.action == actionError:
				return udpReply{}, &FailureError{Reason: r.message}
			case r.action != action:
				return udpReply{}, fmt.Errorf("bad reply: action %d, want %d", r.action, action)
			}
			return r, nil
		}
	}
	return udpReply{}, fmt.Errorf("no reply after %d tries", c.udpRetries+1)
}

// ctxOr prefers the context's error: once it is done, a closed socket is
// the consequence, not the cause.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
