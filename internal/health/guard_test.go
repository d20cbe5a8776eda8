// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package health

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, max int, deny func(netip.Addr) bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }))
	go Guard(srv, ln, max, deny)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// request sends one request on c and reads the answer, leaving c open.
func request(t *testing.T, c net.Conn) error {
	t.Helper()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGuardMakesRoomFromIdleConnections(t *testing.T) {
	addr := serve(t, 4, nil)
	for range 4 {
		if err := request(t, dial(t, addr)); err != nil { // then idle, kept open
			t.Fatal(err)
		}
	}
	if err := request(t, dial(t, addr)); err != nil {
		t.Errorf("a fifth client at the limit of 4 idle ones: %v", err)
	}
}

func TestGuardRefusesPastTheLimitOfBusyConnections(t *testing.T) {
	addr := serve(t, 4, nil)
	for range 4 {
		io.WriteString(dial(t, addr), "GET / HTTP/1.1\r\nHost") // a slow client: never done
	}
	time.Sleep(100 * time.Millisecond)
	if err := request(t, dial(t, addr)); err == nil {
		t.Error("a fifth connection was served past the limit of 4 busy ones")
	}
	// The slow ones are dropped after the header timeout; then it answers.
	time.Sleep(3500 * time.Millisecond)
	if err := request(t, dial(t, addr)); err != nil {
		t.Errorf("after the slow clients timed out: %v", err)
	}
}

func TestGuardDoesNotAnswerOnManagedAddresses(t *testing.T) {
	addr := serve(t, 4, func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.1") })
	err := request(t, dial(t, addr))
	if err == nil || !(strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset")) {
		t.Errorf("served on a denied address: %v", err)
	}
}
