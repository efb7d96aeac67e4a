package load

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// InFlight is one request that the server is still answering, such as
// GET /slow?ms=N: its headers and first byte have arrived, the rest has not.
// It lets a test prove that a request was in flight when a signal was sent.
type InFlight struct {
	conn net.Conn
	resp *http.Response
	PID  int // X-Pid of the serving process
	Gen  int // X-Generation, 0 if the server sends none
}

// BeginSlow sends GET path to addr (loopback only) on a new connection and
// blocks until the response headers and the first byte of the body have
// arrived, or timeout. The caller must call Finish.
func BeginSlow(addr, path string, timeout time.Duration) (*InFlight, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send %s: %w", path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read response to %s: %w", path, err)
	}
	var first [1]byte
	if _, err := io.ReadFull(resp.Body, first[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("read first byte of %s: %w", path, err)
	}
	pid, _ := strconv.Atoi(resp.Header.Get("X-Pid"))
	gen, _ := strconv.Atoi(resp.Header.Get("X-Generation"))
	return &InFlight{conn: conn, resp: resp, PID: pid, Gen: gen}, nil
}

// Status is the response's status code.
func (f *InFlight) Status() int { return f.resp.StatusCode }

// Finish blocks until the rest of the response has arrived (or timeout) and
// closes the connection. A response cut by the server returns an error
// whose Class tells how it was cut.
func (f *InFlight) Finish(timeout time.Duration) (rest string, err error) {
	defer f.conn.Close()
	_ = f.conn.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(f.resp.Body)
	return string(b), err
}
