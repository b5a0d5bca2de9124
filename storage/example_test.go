package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
)

// Open a store at a local location, write objects (visible only once
// closed; create-if-absent has exactly one winner) and list them.
func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hoodie-example-")
	defer os.RemoveAll(dir)

	// Also "file://" + dir, "s3://bucket/prefix" or "mem://name/prefix".
	st, err := storage.Open(ctx, filepath.Join(dir, "events"), storage.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = storage.WriteFile(ctx, st, ".hoodie/hoodie.properties", []byte("hoodie.table.name=events\n"),
		storage.CreateOptions{IfAbsent: true})
	fmt.Println("first create:", err)
	err = storage.WriteFile(ctx, st, ".hoodie/hoodie.properties", []byte("hoodie.table.name=other\n"),
		storage.CreateOptions{IfAbsent: true})
	fmt.Println("second create exists:", errors.Is(err, storage.ErrExist))
	_ = storage.WriteFile(ctx, st, "dt=2026-01-01/part-0.parquet", []byte("PAR1"), storage.CreateOptions{})

	for obj, err := range st.List(ctx, "", "/") { // one level, as S3 lists
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(obj.Path, obj.IsDir)
	}
	b, _ := storage.ReadFile(ctx, st, ".hoodie/hoodie.properties")
	fmt.Print(string(b))
	// Output:
	// first create: <nil>
	// second create exists: true
	// .hoodie/ true
	// dt=2026-01-01/ true
	// hoodie.table.name=events
}

// Open an S3 location on an S3-compatible server with static credentials.
// Opening makes no request (unless CreateBucket is set); the first
// operation reaches the server.
func ExampleOpen_s3() {
	opts := storage.Options{S3: storage.S3Options{
		Endpoint:  "http://127.0.0.1:9000",
		PathStyle: true,
		Region:    "us-east-1",
		Credentials: storage.Credentials{
			AccessKeyID:     "minio",
			SecretAccessKey: "minio-secret",
		},
		RequestTimeout: 10 * time.Second,
	}}
	st, err := storage.Open(context.Background(), "s3://warehouse/tables/events", opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	s3 := st.(*storage.S3)
	fmt.Println(s3.Bucket(), s3.Prefix())
	fmt.Println(opts.S3.Credentials) // the secret is never printed
	// Output:
	// warehouse tables/events/
	// Credentials{AccessKeyID: minio, SecretAccessKey: REDACTED}
}

// Register a scheme: here "sandbox://name" for directories under one root.
// A registered opener takes its settings when it is registered.
func ExampleRegister() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "hoodie-sandbox-")
	defer os.RemoveAll(root)

	err := storage.Register("sandbox", func(ctx context.Context, loc storage.Location, opts storage.Options) (storage.Storage, error) {
		return storage.NewLocal(filepath.Join(root, loc.Host, filepath.FromSlash(loc.Path)))
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = storage.Register("sandbox", nil) }()

	st, err := storage.Open(ctx, "sandbox://team-a/events", storage.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = storage.WriteFile(ctx, st, "hello.txt", []byte("hi"), storage.CreateOptions{})
	_, err = os.Stat(filepath.Join(root, "team-a", "events", "hello.txt"))
	fmt.Println("written under the root:", err == nil)
	fmt.Println(strings.Contains(strings.Join(storage.Schemes(), " "), "sandbox"))
	// Output:
	// written under the root: true
	// true
}

func ExampleParseLocation() {
	for _, s := range []string{
		"/data/tables/events",
		"file:///data/tables/events",
		"s3a://bucket/tables/events/",
		"mem://test/events",
		"hdfs://namenode/tables/events",
	} {
		l, err := storage.ParseLocation(s)
		if err != nil {
			fmt.Println("error:", errors.Is(err, storage.ErrUnsupportedScheme))
			continue
		}
		fmt.Printf("%s %q %q -> %s\n", l.Scheme, l.Host, l.Path, l)
	}
	// Output:
	// file "" "/data/tables/events" -> /data/tables/events
	// file "" "/data/tables/events" -> /data/tables/events
	// s3a "bucket" "tables/events" -> s3a://bucket/tables/events
	// mem "test" "events" -> mem://test/events
	// error: true
}
