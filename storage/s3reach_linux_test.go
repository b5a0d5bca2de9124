package storage_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/storage"
)

// TestS3SlowUploadIsNotCutOff: an upload to a slow peer takes several
// request timeouts, including after the client's last write returned while
// the socket still held megabytes on their way; it succeeds because the
// bytes keep moving (the peer keeps acknowledging them).
//
// The server's small receive buffer makes it a slow network rather than a
// slow application behind a large kernel buffer, which no client can tell
// from a hung one.
func TestS3SlowUploadIsNotCutOff(t *testing.T) {
	fakeCreds(t)
	const pause = 100 * time.Millisecond
	request := 500 * time.Millisecond
	var uploaded atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body slowly: 512 KiB per 100 ms.
		buf := make([]byte, 512<<10)
		for {
			n, err := io.ReadFull(r.Body, buf)
			uploaded.Add(int64(n))
			if err != nil {
				break
			}
			time.Sleep(pause)
		}
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusOK)
	}))
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
		}); err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	st := openAt(t, strings.TrimPrefix(srv.URL, "http://"), storage.Options{S3: storage.S3Options{RequestTimeout: request}})

	// 12 MiB (one PUT) at 5 MiB/s: about 2.4 s.
	big := bytes.Repeat([]byte("y"), 12<<20)
	start := time.Now()
	require.NoError(t, storage.WriteFile(t.Context(), st, "k", big, storage.CreateOptions{}))
	elapsed := time.Since(start)
	t.Logf("uploaded in %v", elapsed.Round(time.Millisecond))
	assert.Greater(t, elapsed, 4*request, "the upload outlasted the request timeout")
	assert.EqualValues(t, len(big), uploaded.Load())
}
