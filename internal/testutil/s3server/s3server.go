// Package s3server gives tests a real S3 server: versitygw with its posix
// backend, started through scripts/s3server.sh.
//
// If HOODIE_S3_ENDPOINT is set (for example after
// `scripts/s3server.sh start DIR && . DIR/env`), that server is used, with
// credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Otherwise the
// first Start of a test binary launches a private server on a free
// 127.0.0.1 port (installing versitygw with `go install` if needed), and Main
// stops it when the tests are done. A server that cannot start fails the
// test; it is never skipped.
//
//	func TestMain(m *testing.M) { s3server.Main(m) }
//
//	func TestX(t *testing.T) {
//		srv := s3server.Start(t)
//		loc, opts := srv.NewLocation(t) // s3://<fresh bucket>/table
//		st, err := storage.Open(ctx, loc, opts)
//	}
//
// Because storage resolves credentials and endpoints through the standard
// AWS chain, Start exports the server's AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_REGION into the test process's environment
// when it launches the server itself, and in either case points
// AWS_ENDPOINT_URL_S3 at the server: code under test that opens an s3://
// location with zero Options reaches the test server, never AWS.
package s3server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
)

// Environment variables naming an already running server.
const (
	EnvEndpoint = "HOODIE_S3_ENDPOINT"
	envRegion   = "AWS_REGION"
	envAccess   = "AWS_ACCESS_KEY_ID"
	envSecret   = "AWS_SECRET_ACCESS_KEY"
	// envEndpointS3 is read by the AWS SDK itself.
	envEndpointS3 = "AWS_ENDPOINT_URL_S3"
)

const (
	// startTimeout covers a first-time `go install` of versitygw.
	startTimeout  = 5 * time.Minute
	startAttempts = 3
	stopTimeout   = 10 * time.Second
)

// Server is a running S3-compatible server.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
}

// Options returns storage options addressing the server (path-style).
func (s *Server) Options() storage.Options {
	return storage.Options{S3: storage.S3Options{Endpoint: s.Endpoint, Region: s.Region, PathStyle: true}}
}

// NewBucket creates a fresh bucket with a name derived from the test's and
// returns the name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := bucketName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := storage.CreateBucket(ctx, name, s.Options().S3); err != nil {
		t.Fatalf("s3server: %v", err)
	}
	return name
}

// NewLocation creates a fresh bucket and returns the location
// "s3://<bucket>/table" with the options to open it.
func (s *Server) NewLocation(t testing.TB) (string, storage.Options) {
	t.Helper()
	return "s3://" + s.NewBucket(t) + "/table", s.Options()
}

// bucketName makes a valid, unique S3 bucket name: 3-63 characters of
// [a-z0-9-], starting and ending with a letter or digit.
func bucketName(testName string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	base := strings.Trim(b.String(), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	var rnd [5]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	if base == "" {
		return "hoodie-" + hex.EncodeToString(rnd[:])
	}
	return "hoodie-" + base + "-" + hex.EncodeToString(rnd[:])
}

// Process-wide server state: one server per test binary.
var state struct {
	mu   sync.Mutex
	srv  *Server
	err  error // a failed start is not retried by later tests
	proc *process
}

type process struct {
	cmd  *exec.Cmd
	dir  string
	done chan struct{} // closed when the process has exited
}

// Start returns the test binary's server, starting it on first use. It
// fails the test if no server can be had.
func Start(t testing.TB) *Server {
	t.Helper()
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.srv == nil && state.err == nil {
		state.srv, state.err = start()
	}
	if state.err != nil {
		t.Fatalf("s3server: %v", state.err)
	}
	return state.srv
}

// Main runs the tests and then stops a server that Start launched. Call it
// from TestMain so no versitygw process or data directory outlives the tests.
func Main(m *testing.M) {
	code := m.Run()
	if err := Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "s3server: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Stop stops a server launched by Start and removes its data; a no-op for an
// external server or none. A later Start launches a new one.
func Stop() error {
	state.mu.Lock()
	defer state.mu.Unlock()
	p := state.proc
	state.proc, state.srv, state.err = nil, nil, nil
	if p == nil {
		return nil
	}
	return p.stop()
}

func start() (*Server, error) {
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		srv := &Server{Endpoint: ep, AccessKey: os.Getenv(envAccess), SecretKey: os.Getenv(envSecret), Region: os.Getenv(envRegion)}
		if srv.AccessKey == "" || srv.SecretKey == "" {
			return nil, fmt.Errorf("%s is set but %s or %s is not", EnvEndpoint, envAccess, envSecret)
		}
		if srv.Region == "" {
			srv.Region = "us-east-1"
		}
		if err := os.Setenv(envEndpointS3, ep); err != nil {
			return nil, fmt.Errorf("set %s: %w", envEndpointS3, err)
		}
		return srv, nil
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "scripts", "s3server.sh")
	var errs []error
	for range startAttempts {
		srv, p, err := launch(script)
		if err == nil {
			state.proc = p
			for k, v := range map[string]string{
				envAccess: srv.AccessKey, envSecret: srv.SecretKey, envRegion: srv.Region,
				envEndpointS3:               srv.Endpoint,
				"AWS_EC2_METADATA_DISABLED": "true",
			} {
				if err := os.Setenv(k, v); err != nil {
					return nil, errors.Join(fmt.Errorf("set %s: %w", k, err), p.stop())
				}
			}
			return srv, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("versitygw did not start: %w", errors.Join(errs...))
}

// launch runs `s3server.sh run DIR` and waits until the server answers.
func launch(script string) (*Server, *process, error) {
	dir, err := os.MkdirTemp("", "hoodie-s3server-")
	if err != nil {
		return nil, nil, err
	}
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, errors.Join(err, os.RemoveAll(dir))
	}
	p := &process{dir: dir, done: make(chan struct{})}
	started := make(chan error, 1)
	// Pdeathsig fires when the thread that forked the child exits, so the
	// child is started and waited for on one locked thread that lives as
	// long as the child does.
	go func() {
		runtime.LockOSThread()
		defer close(p.done)
		defer logf.Close()
		cmd := exec.Command("bash", script, "run", dir)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = sysProcAttr()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.cmd = cmd
		started <- nil
		_ = cmd.Wait() // exit status is moot: stop kills it
	}()
	if err := <-started; err != nil {
		return nil, nil, errors.Join(fmt.Errorf("run %s: %w", script, err), os.RemoveAll(dir))
	}
	srv, err := waitReady(p, filepath.Join(dir, "env"))
	if err != nil {
		log, _ := os.ReadFile(logPath)
		return nil, nil, errors.Join(fmt.Errorf("%w; server log:\n%s", err, tail(string(log), 2000)), p.stop())
	}
	return srv, p, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func waitReady(p *process, envPath string) (*Server, error) {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var srv *Server
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return nil, errors.New("server exited during startup")
		case <-time.After(100 * time.Millisecond):
		}
		if srv == nil {
			env, err := readEnv(envPath)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			srv = &Server{Endpoint: env[EnvEndpoint], AccessKey: env[envAccess], SecretKey: env[envSecret], Region: env[envRegion]}
			if srv.Endpoint == "" || srv.AccessKey == "" || srv.SecretKey == "" {
				return nil, fmt.Errorf("incomplete %s", envPath)
			}
		}
		resp, err := client.Get(srv.Endpoint + "/")
		if err == nil {
			resp.Body.Close() // any HTTP answer (403 without credentials) means up
			return srv, nil
		}
	}
	return nil, fmt.Errorf("server not ready after %v", startTimeout)
}

// readEnv parses the script's env file of `export K=V` lines.
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// stop terminates the server's process group and removes its directory.
func (p *process) stop() error {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = killGroup(p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = killGroup(p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	return os.RemoveAll(p.dir)
}

// repoRoot walks up from the working directory (a package directory under
// go test) to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}
