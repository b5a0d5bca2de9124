// Package lint holds checks on the code base itself.
package lint

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/hoodie-lake/hoodie/"

// forbidden lists, per package (relative to the module), the packages it
// must not import: the dependency direction cmd → writer/compactor →
// table/timeline/index → storage, and codecs that take
// io.Reader/io.Writer instead of storage.
var forbidden = map[string][]string{
	"timeline":          {"table", "filegroup", "writer", "index", "reader", "bench", "cmd"},
	"filegroup":         {"table", "writer", "reader", "index", "compactor", "cleaner", "cmd"},
	"table":             {"writer", "index", "reader", "bench", "cmd"},
	"index":             {"table", "timeline", "writer", "reader", "bench", "cmd", "storage"},
	"reader":            {"writer", "index", "bench", "cmd"},
	"writer":            {"bench", "cmd"},
	"pipeline":          {"bench", "cmd"},
	"stream":            {"bench", "cmd", "stream/kafka", "stream/kinesis"},
	"stream/payload":    {"storage", "table", "timeline", "index", "writer", "reader", "stream", "bench", "cmd"},
	"stream/kafka":      {"table", "timeline", "index", "writer", "reader", "pipeline", "bench", "cmd"},
	"stream/kinesis":    {"table", "timeline", "index", "writer", "reader", "pipeline", "bench", "cmd"},
	"internal/merge":    {"table", "writer", "reader", "index", "bench", "cmd"},
	"compactor":         {"writer", "reader", "index", "bench", "cmd"},
	"rollback":          {"writer", "reader", "index", "compactor", "cleaner", "bench", "cmd"},
	"storage":           {"table", "timeline", "index", "writer", "reader", "bench", "cmd"},
	"internal/basefile": {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
	"internal/schema":   {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
	"internal/keygen":   {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
	"internal/bloom":    {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
	"internal/hivepath": {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
	"avroplan":          {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
	"internal/logfile":  {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
	"internal/avrobin":  {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
	"internal/hfile":    {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
	"internal/ingest":   {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},

	// The metadata table's record codec.
	"internal/mdtrecord": {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
	// The metadata table's maintenance: below every service that calls it.
	"metadata": {"index", "writer", "reader", "compactor", "cleaner", "rollback", "pipeline", "stream", "bench", "cmd"},

	// Test harnesses. The op-trace wrapper sits on storage alone; the
	// shared test model must not import writer (writer's own tests use it).
	"internal/optrace":             {"table", "filegroup", "timeline", "index", "writer", "reader", "compactor", "cleaner", "bench", "cmd"},
	"internal/storagefault":        {"table", "filegroup", "timeline", "index", "writer", "reader", "compactor", "cleaner", "bench", "cmd"},
	"internal/testutil/model":      {"writer", "pipeline", "bench", "cmd"},
	"internal/testutil/datadriven": {"storage", "table", "timeline", "index", "writer", "reader", "cmd"},
}

// TestImportDirection parses every non-test Go file and checks its imports
// against forbidden.
func TestImportDirection(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	checked := 0
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		rules, ok := forbidden[rel]
		if !ok {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			dep, ok := strings.CutPrefix(p, module)
			if !ok {
				continue
			}
			for _, bad := range rules {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s imports %s: the dependency direction forbids it", filepath.ToSlash(strings.TrimPrefix(path, root+"/")), p)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, checked, 30, "files checked")
}
