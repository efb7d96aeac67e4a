package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// probe is a request queued on a listening socket before anyone accepts it.
type probe struct {
	c net.Conn
	r *bufio.Reader
}

func newProbe(addr string) (*probe, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	return &probe{c, bufio.NewReader(c)}, nil
}

// answer waits for the response and returns the time it arrived and the
// X-Pid that answered.
func (p *probe) answer(timeout time.Duration) (time.Time, int, error) {
	defer p.c.Close()
	p.c.SetDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(p.r, nil)
	at := time.Now()
	if err != nil {
		return at, 0, err
	}
	resp.Body.Close()
	pid, _ := strconv.Atoi(resp.Header.Get("X-Pid"))
	return at, pid, nil
}
