package transport

import (
	"crypto/tls"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// Limits bound what one server accepts, against floods and oversized
// messages. Zero values take the defaults.
type Limits struct {
	// MaxConnections bounds the connections open at once (TLS handshakes
	// included); further connections wait in the listen backlog. Defaults
	// to 1024.
	MaxConnections int
	// MaxStreamsPerConnection bounds concurrent calls on one connection.
	// Defaults to 16.
	MaxStreamsPerConnection uint32
	// HandshakeTimeout bounds the TLS handshake of a new connection, so a
	// peer that connects and says nothing frees its slot. Defaults to 10s.
	HandshakeTimeout time.Duration
	// MaxMessageSize bounds one received message (a chunk, a secagg
	// message). Defaults to 4 MiB.
	MaxMessageSize int
	// StreamWindow is the HTTP/2 flow-control window of each call: how
	// much a client may send before the server reads it. A fixed window
	// (gRPC's default grows it up to megabytes per call) bounds what
	// uploads waiting for a slot hold in the server's memory, at the cost
	// of throughput on links with a large bandwidth-delay product.
	// Defaults to 256 KiB; the window of a connection is four times it.
	StreamWindow int32
}

func (l *Limits) defaults() {
	if l.MaxConnections <= 0 {
		l.MaxConnections = 1024
	}
	if l.MaxStreamsPerConnection == 0 {
		l.MaxStreamsPerConnection = 16
	}
	if l.HandshakeTimeout <= 0 {
		l.HandshakeTimeout = 10 * time.Second
	}
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = 4 << 20
	}
	if l.StreamWindow < 64<<10 {
		l.StreamWindow = 256 << 10
	}
}

// Keepalive settings: the server pings an idle connection every 30s and
// drops it if the ping is not answered in 10s; clients ping every 20s,
// even without calls in flight, which the server permits down to 10s.
const (
	serverPingInterval = 30 * time.Second
	clientPingInterval = 20 * time.Second
	pingTimeout        = 10 * time.Second
	minClientPing      = 10 * time.Second
)

// NewGRPCServer returns a grpc.Server with mutual TLS (tlsConf, from
// internal/mtls's ServerConfig), keepalives, the limits and the service's
// codec (protobuf, with the chunks of uploads and downloads encoded and
// decoded without extra copies), with s registered. Serve it on a
// listener wrapped by [LimitListener].
func NewGRPCServer(s *Server, tlsConf *tls.Config, lim Limits, opts ...grpc.ServerOption) *grpc.Server {
	lim.defaults()
	base := []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(tlsConf)),
		grpc.ForceServerCodecV2(newChunkCodec()),
		grpc.MaxConcurrentStreams(lim.MaxStreamsPerConnection),
		grpc.MaxRecvMsgSize(lim.MaxMessageSize),
		grpc.ConnectionTimeout(lim.HandshakeTimeout),
		grpc.InitialWindowSize(lim.StreamWindow),
		grpc.InitialConnWindowSize(4 * lim.StreamWindow),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: serverPingInterval, Timeout: pingTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minClientPing, PermitWithoutStream: true}),
	}
	g := grpc.NewServer(append(base, opts...)...)
	s.Register(g)
	return g
}

// LimitListener returns a listener that keeps at most n connections open
// at once: Accept waits for a slot. (The shape of x/net/netutil's
// LimitListener, with a count of open connections for tests.)
func LimitListener(l net.Listener, n int) *Listener {
	if n <= 0 {
		n = 1024
	}
	return &Listener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// Listener is a connection-limiting listener; see [LimitListener].
type Listener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	open, max int
}

// Accept waits for a free slot, then for a connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.max = max(l.max, l.open)
	l.mu.Unlock()
	return &limitedConn{Conn: c, l: l}, nil
}

// Close closes the listener.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// MaxOpen returns the largest number of connections open at once so far.
func (l *Listener) MaxOpen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

type limitedConn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
		<-c.l.sem
	})
	return err
}
