package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// S3RequestsConfig configures RunS3Requests: the requests one upsert
// commit sends to S3, for tables of growing size.
type S3RequestsConfig struct {
	// Location is an s3://bucket/prefix the tables are created under
	// (<Location>/<type>-<partitions>); the bucket must exist.
	Location string
	// Options address the S3 server. When an endpoint is set (here or by
	// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), the commit's requests also
	// go through a counting HTTP proxy in front of it, path-style, which
	// records the HTTP requests the server received.
	Options storage.Options
	// Dir holds the writers' indexes. Default: a temporary directory,
	// removed afterwards.
	Dir string
	// Partitions are the table sizes compared, in partitions, one base
	// file each. Default 100, 1,000 and 5,000.
	Partitions []int
	// RowsPerPartition is the rows of each partition. Default 10.
	RowsPerPartition int
	// Records is the size of the counted upsert. Default 1,000.
	Records int
	// UpdateShare is the share of the upsert that updates stored rows; the
	// rest are new rows. Default 0.10.
	UpdateShare float64
	// Touched is how many partitions the upsert touches. Default 5.
	Touched int
	// TableTypes to measure. Default copy-on-write and merge-on-read.
	TableTypes []table.TableType
	// Seed of the workload.
	Seed uint64
}

func (c *S3RequestsConfig) defaults() {
	if len(c.Partitions) == 0 {
		c.Partitions = []int{100, 1000, 5000}
	}
	if c.RowsPerPartition == 0 {
		c.RowsPerPartition = 10
	}
	if c.Records == 0 {
		c.Records = 1000
	}
	if c.UpdateShare == 0 {
		c.UpdateShare = 0.10
	}
	if c.Touched == 0 {
		c.Touched = 5
	}
	if len(c.TableTypes) == 0 {
		c.TableTypes = []table.TableType{table.CopyOnWrite, table.MergeOnRead}
	}
}

// Request kinds. Storage operations map to them as an S3 backend sends
// them: read → GET, stat → HEAD, a writer's close → PUT (objects above one
// part: POST + PUTs + POST), list → LIST (one per 1,000 keys), delete →
// DELETE.
const (
	ReqGet    = "GET"
	ReqHead   = "HEAD"
	ReqPut    = "PUT"
	ReqPost   = "POST"
	ReqList   = "LIST"
	ReqDelete = "DELETE"
)

// RequestKinds in report order.
var RequestKinds = []string{ReqGet, ReqHead, ReqPut, ReqPost, ReqList, ReqDelete}

// S3RequestsResult counts one table's upsert commit.
type S3RequestsResult struct {
	TableType  string `json:"tableType"`
	Partitions int    `json:"partitions"`
	TableRows  int    `json:"tableRows"`
	// BuildSeconds: bulk insert of the table (one commit), not counted.
	BuildSeconds float64 `json:"buildSeconds"`
	// CommitSeconds: the counted Upsert + Commit.
	CommitSeconds float64 `json:"commitSeconds"`
	// Ops are the commit's storage operations by request kind, counted by
	// a counting wrapper around the S3 store.
	Ops map[string]int `json:"ops"`
	// Requests are the commit's HTTP requests by kind as the server
	// received them (nil without a proxied endpoint); GetBytes the bytes
	// of their GET responses.
	Requests map[string]int `json:"requests,omitempty"`
	GetBytes int64          `json:"getBytes,omitempty"`
	// OpenOps / OpenRequests: the same for table.Open + writer.Open, once
	// per writer, before the commit.
	OpenOps      map[string]int `json:"openOps"`
	OpenRequests map[string]int `json:"openRequests,omitempty"`
	Note         string         `json:"note,omitempty"`
}

// RunS3Requests builds, for each table type and size, a table of
// cfg.Partitions partitions under cfg.Location, then opens a writer on it
// through the counting wrappers and counts the requests of one upsert
// commit of cfg.Records records into cfg.Touched partitions.
func RunS3Requests(ctx context.Context, cfg S3RequestsConfig, log io.Writer) ([]S3RequestsResult, error) {
	cfg.defaults()
	loc, err := storage.ParseLocation(cfg.Location)
	if err != nil {
		return nil, err
	}
	if loc.Scheme != "s3" {
		return nil, fmt.Errorf("bench: s3 requests: %q is not an s3:// location", cfg.Location)
	}
	if cfg.Touched > slices.Min(cfg.Partitions) {
		return nil, fmt.Errorf("bench: s3 requests: %d touched partitions but a table of %d", cfg.Touched, slices.Min(cfg.Partitions))
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "hoodie-s3requests-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var proxy *countingProxy
	if ep := s3Endpoint(cfg.Options); ep != "" {
		if proxy, err = newCountingProxy(ep); err != nil {
			return nil, err
		}
		defer proxy.Close()
	}
	var out []S3RequestsResult
	for _, typ := range cfg.TableTypes {
		for _, n := range cfg.Partitions {
			name := fmt.Sprintf("%s-%d", typeName(typ), n)
			r, err := countOne(ctx, loc, name, filepath.Join(dir, name), proxy, typ, n, cfg, log)
			if err != nil {
				return out, fmt.Errorf("bench: s3 requests %s: %w", name, err)
			}
			fmt.Fprintf(log, "bench: s3 requests %s %5d partitions: commit %s; requests %s (GET %d bytes); open %s\n",
				r.TableType, n, FormatCounts(r.Ops), FormatCounts(r.Requests), r.GetBytes, FormatCounts(r.OpenOps))
			out = append(out, r)
		}
	}
	return out, nil
}

func countOne(ctx context.Context, loc storage.Location, name, indexDir string, proxy *countingProxy, typ table.TableType, n int, cfg S3RequestsConfig, log io.Writer) (S3RequestsResult, error) {
	r := S3RequestsResult{TableType: typeName(typ), Partitions: n, TableRows: n * cfg.RowsPerPartition}
	prefix := strings.Trim(loc.Path+"/"+name, "/")
	direct, err := storage.NewS3(ctx, loc.Host, prefix, cfg.Options.S3)
	if err != nil {
		return r, err
	}
	wl := newPartitionedWorkload(cfg.Seed, n, cfg.RowsPerPartition, cfg.Touched)
	if _, r.BuildSeconds, err = wl.build(ctx, direct, typ, indexDir); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "bench: s3 requests %s %5d partitions: table of %d rows built in %.1fs\n", r.TableType, n, r.TableRows, r.BuildSeconds)

	inner := storage.Storage(direct)
	if proxy != nil {
		opts := cfg.Options.S3
		opts.Endpoint, opts.PathStyle = proxy.URL, true
		if inner, err = storage.NewS3(ctx, loc.Host, prefix, opts); err != nil {
			return r, err
		}
		proxy.Reset()
	}
	ops := &opCounter{}
	st := storagefault.NewFaulty(inner, ops)
	tbl, err := table.Open(ctx, st)
	if err != nil {
		return r, err
	}
	w, err := writer.Open(ctx, tbl, writerOptions(indexDir, typ))
	if err != nil {
		return r, err
	}
	defer w.Close()
	r.OpenOps = ops.Reset()
	if proxy != nil {
		r.OpenRequests, _ = proxy.Reset()
	}
	secs, res, err := wl.commit(ctx, w, cfg.Records, cfg.UpdateShare)
	if err != nil {
		return r, err
	}
	r.CommitSeconds = secs
	r.Ops = ops.Reset()
	if proxy != nil {
		r.Requests, r.GetBytes = proxy.Reset()
	}
	r.Note = fmt.Sprintf("%d updates, %d inserts into %d partitions; %d files written (%d log files)",
		res.Stats.Updates, res.Stats.Inserts, res.Stats.Partitions, res.Stats.FilesWritten, logFiles(res))
	return r, w.Close()
}

// FormatCounts renders request counts as "GET 3 HEAD 0 ..." in
// RequestKinds order, plus any other kinds.
func FormatCounts(m map[string]int) string {
	if m == nil {
		return "-"
	}
	var parts []string
	for _, k := range RequestKinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(RequestKinds, k) {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, " ")
}

// opCounter is a storagefault.Injector that fails nothing and counts the
// operations by the request kind they become on S3.
type opCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

var opKinds = map[storagefault.OpKind]string{
	storagefault.OpRead: ReqGet, storagefault.OpStat: ReqHead, storagefault.OpClose: ReqPut,
	storagefault.OpList: ReqList, storagefault.OpDelete: ReqDelete,
}

// MaybeError implements storagefault.Injector.
func (c *opCounter) MaybeError(op storagefault.Op) error {
	k, ok := opKinds[op.Kind]
	if !ok {
		return nil // create and write are not requests of their own
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[k]++
	return nil
}

// Reset returns the counts so far and starts again from zero.
func (c *opCounter) Reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.counts
	c.counts = nil
	if m == nil {
		m = map[string]int{}
	}
	return m
}

// s3Endpoint is the endpoint the S3 store would use for opts ("" for AWS).
func s3Endpoint(opts storage.Options) string {
	if opts.S3.Endpoint != "" {
		return opts.S3.Endpoint
	}
	for _, k := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// countingProxy is an HTTP reverse proxy in front of an S3 endpoint that
// counts the requests passing through by kind. It keeps the Host header the
// client signed, so SigV4 signatures stay valid (path-style addressing).
type countingProxy struct {
	URL string
	srv *http.Server
	ln  net.Listener
	mu  struct {
		sync.Mutex
		counts   map[string]int
		getBytes int64
	}
}

func newCountingProxy(endpoint string) (*countingProxy, error) {
	target, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("bench: s3 endpoint %q: %w", endpoint, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: counting proxy: %w", err)
	}
	p := &countingProxy{URL: "http://" + ln.Addr().String(), ln: ln}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the signed host
			pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, pr.In.URL.RawPath
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Method == http.MethodGet && resp.ContentLength > 0 {
				p.mu.Lock()
				p.mu.getBytes += resp.ContentLength
				p.mu.Unlock()
			}
			return nil
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.count(requestKind(r))
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: time.Minute}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// requestKind classifies an S3 request (path-style): a GET of a bucket
// (no key) is a LIST.
func requestKind(r *http.Request) string {
	if r.Method == http.MethodGet {
		key := strings.TrimPrefix(r.URL.Path, "/")
		if _, k, _ := strings.Cut(key, "/"); k == "" || r.URL.Query().Has("list-type") {
			return ReqList
		}
	}
	return r.Method
}

func (p *countingProxy) count(kind string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.counts == nil {
		p.mu.counts = map[string]int{}
	}
	p.mu.counts[kind]++
}

// Reset returns the counts and GET response bytes so far and starts again.
func (p *countingProxy) Reset() (map[string]int, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, b := p.mu.counts, p.mu.getBytes
	p.mu.counts, p.mu.getBytes = nil, 0
	if m == nil {
		m = map[string]int{}
	}
	return m, b
}

// Close stops the proxy.
func (p *countingProxy) Close() error {
	err := p.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
