package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// selfConns holds the connections this process has dialled and not yet
// closed, as "LOCALPORT>REMOTEADDR" (the same local port can serve
// connections to different remote addresses at once, so the port alone
// does not tell). The copy-source front runs in this process, so a
// connection to a counting proxy found here is the rig (Azure's
// server-side fetch, played by the front), never the tool.
var selfConns sync.Map // string -> struct{}

func connKey(localPort int, remote string) string { return strconv.Itoa(localPort) + ">" + remote }

// trackSelfDials makes every http.Transport cloned from
// http.DefaultTransport from now on (the front clones it when it starts)
// record its connections in selfConns. Call it before the front starts.
func trackSelfDials() {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	http.DefaultTransport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		key := connKey(c.LocalAddr().(*net.TCPAddr).Port, c.RemoteAddr().String())
		selfConns.Store(key, struct{}{})
		return &selfConn{Conn: c, key: key}, nil
	}
}

type selfConn struct {
	net.Conn
	key  string
	once sync.Once
}

func (c *selfConn) Close() error {
	c.once.Do(func() { selfConns.Delete(c.key) })
	return c.Conn.Close()
}

// flow counts the bytes of connections of one kind through a proxy.
type flow struct {
	conns    atomic.Int64
	sent     atomic.Int64 // bytes the connecting side sent (requests), on the wire
	received atomic.Int64 // bytes the connecting side received (responses), on the wire

	// From parsing the HTTP/1.1 exchanges: object bytes are the bodies of
	// GETs of an object (S3 side) and of Put Blob / Put Block requests
	// (Azure side), i.e. payload; other bodies are listings, block lists,
	// error documents.
	objectBytes atomic.Int64
	otherBodies atomic.Int64
	requests    atomic.Int64
	parseErrors atomic.Int64

	mu    sync.Mutex
	kinds map[string]int // requests by kind, e.g. "HEAD object", "PUT blob comp=block"
}

func (f *flow) count(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kinds == nil {
		f.kinds = map[string]int{}
	}
	f.kinds[kind]++
}

// requestKinds lists the requests by kind, most frequent first.
func (f *flow) requestKinds() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	type kv struct {
		k string
		n int
	}
	var l []kv
	for k, n := range f.kinds {
		l = append(l, kv{k, n})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n || l[i].n == l[j].n && l[i].k < l[j].k })
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", e.n, e.k)
	}
	return b.String()
}

// countingProxy is a TCP proxy on 127.0.0.1 before one server. It counts
// every byte each way, and tells the tool's connections from the rig's own
// (the front's fetches of presigned URLs, dialled from this process): the
// tool's bytes are the bytes through the client.
type countingProxy struct {
	Addr string // 127.0.0.1:PORT

	azure   bool // the server is Azure (else S3)
	target  string
	ln      net.Listener
	toolPID atomic.Int64

	tool, rig flow
	// verified counts the tool's connections whose socket was found in the
	// tool's process (/proc/PID/fd); the others were counted as the tool's
	// without that proof.
	verified, unverified atomic.Int64

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool // open, both sides
}

func newCountingProxy(target string, azure bool) (*countingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{Addr: ln.Addr().String(), azure: azure, target: target, ln: ln, conns: map[net.Conn]bool{}}
	go p.serve()
	return p, nil
}

func (p *countingProxy) setToolPID(pid int) { p.toolPID.Store(int64(pid)) }

// Close stops accepting, gives the connections a second to finish, closes
// those still open (idle keep-alive connections: servers and the front's
// pool hold them for a minute or more) and waits until every byte is
// counted.
func (p *countingProxy) Close() {
	p.ln.Close()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(time.Second):
	}
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	<-done
}

func (p *countingProxy) track(c net.Conn, open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if open {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *countingProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *countingProxy) handle(c net.Conn) {
	defer c.Close()
	p.track(c, true)
	defer p.track(c, false)
	// Wait for the first bytes before classifying: a dialler in this process
	// has recorded its connection by then (it records before returning the
	// connection, and writes only after).
	br := bufio.NewReaderSize(c, 32<<10)
	if _, err := br.Peek(1); err != nil {
		return
	}
	peer := c.RemoteAddr().(*net.TCPAddr).Port
	f := &p.tool
	if _, ok := selfConns.Load(connKey(peer, p.Addr)); ok {
		f = &p.rig
	} else if p.ownedByTool(peer) {
		p.verified.Add(1)
	} else {
		p.unverified.Add(1)
	}
	f.conns.Add(1)
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	p.track(s, true)
	defer p.track(s, false)
	// Both streams are copied as they are and, on the side, parsed as
	// HTTP/1.1 to tell object bytes from the rest.
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	kinds := make(chan exchange, 1024)
	var parsers sync.WaitGroup
	parsers.Add(2)
	go func() { defer parsers.Done(); p.parseRequests(reqR, kinds, f) }()
	go func() { defer parsers.Done(); parseResponses(respR, kinds, f) }()
	done := make(chan struct{})
	go func() {
		n, _ := io.Copy(s, io.TeeReader(br, reqW))
		f.sent.Add(n)
		reqW.Close()
		if tc, ok := s.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	n, _ := io.Copy(c, io.TeeReader(s, respW))
	f.received.Add(n)
	respW.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
	parsers.Wait()
}

// exchange is what the response parser needs to know of its request.
type exchange struct {
	method    string
	objectGet bool // S3: a GET of an object, whose response body is payload
}

// parseRequests reads HTTP/1.1 requests from r, counting their bodies, and
// passes each one's kind to the response parser. It always reads r to its
// end.
func (p *countingProxy) parseRequests(r io.Reader, kinds chan<- exchange, f *flow) {
	// On the way out, close kinds first (the response parser must not wait
	// for a request), then read what is left.
	defer io.Copy(io.Discard, r)
	defer close(kinds)
	br := bufio.NewReaderSize(r, 32<<10)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				f.parseErrors.Add(1)
			}
			return
		}
		f.requests.Add(1)
		parts := strings.SplitN(strings.TrimPrefix(req.URL.Path, "/"), "/", 3)
		var object bool
		q := req.URL.Query()
		if p.azure { // /account/container/blob: Put Blob or Put Block
			comp := q.Get("comp")
			object = req.Method == http.MethodPut && len(parts) == 3 && parts[2] != "" && (comp == "" || comp == "block")
			kind := req.Method + " " + [...]string{"service", "service", "container", "blob"}[len(parts)]
			if comp != "" {
				kind += " comp=" + comp
			}
			if req.Header.Get("x-ms-copy-source") != "" {
				kind += " from URL"
			}
			f.count(kind)
		} else {
			kind := req.Method + " bucket"
			switch {
			case len(parts) >= 2 && parts[1] != "":
				kind = req.Method + " object"
			case q.Has("list-type") || req.Method == http.MethodGet && q.Has("prefix"):
				kind = req.Method + " list"
			}
			if q.Get("X-Amz-Signature") != "" {
				kind += " presigned"
			}
			f.count(kind)
		}
		kinds <- exchange{method: req.Method, objectGet: !p.azure && req.Method == http.MethodGet && len(parts) >= 2 && parts[1] != ""}
		n, err := io.Copy(io.Discard, req.Body)
		if object {
			f.objectBytes.Add(n)
		} else {
			f.otherBodies.Add(n)
		}
		if err != nil {
			f.parseErrors.Add(1)
			return
		}
	}
}

// parseResponses reads HTTP/1.1 responses from r, one (after any 1xx) per
// request from kinds, counting their bodies. It always reads r to its end.
func parseResponses(r io.Reader, kinds <-chan exchange, f *flow) {
	defer func() {
		go func() { // the request parser must not block on kinds
			for range kinds {
			}
		}()
		io.Copy(io.Discard, r)
	}()
	br := bufio.NewReaderSize(r, 32<<10)
	for x := range kinds {
		for {
			resp, err := http.ReadResponse(br, &http.Request{Method: x.method})
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					f.parseErrors.Add(1)
				}
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			if x.objectGet && resp.StatusCode/100 == 2 {
				f.objectBytes.Add(n)
			} else {
				f.otherBodies.Add(n)
			}
			if err != nil {
				f.parseErrors.Add(1)
				return
			}
			if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
				break
			}
		}
	}
}

// ownedByTool reports whether the socket at 127.0.0.1:peer connected to
// this proxy belongs to the tool's process: its inode, from /proc/net/tcp,
// is among the tool's open files.
func (p *countingProxy) ownedByTool(peer int) bool {
	pid := p.toolPID.Load()
	for i := 0; pid == 0 && i < 100; i++ { // the tool can connect before Start returns
		time.Sleep(10 * time.Millisecond)
		pid = p.toolPID.Load()
	}
	if pid == 0 {
		return false
	}
	_, port, _ := net.SplitHostPort(p.Addr)
	listen, _ := strconv.Atoi(port)
	inode, err := socketInode(peer, listen)
	if err != nil {
		return false
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	want := "socket:[" + inode + "]"
	for _, e := range ents {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && l == want {
			return true
		}
	}
	return false
}

// socketInode finds, in /proc/net/tcp, the inode of the IPv4 socket whose
// local port is local and remote port is remote.
func socketInode(local, remote int) (string, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "", err
	}
	defer f.Close()
	l, r := fmt.Sprintf(":%04X", local), fmt.Sprintf(":%04X", remote)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 9 && strings.HasSuffix(fs[1], l) && strings.HasSuffix(fs[2], r) {
			return fs[9], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("socket not found")
}
