package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// maxFuncLines is the longest function body the write-path packages allow.
const maxFuncLines = 80

// longFuncPackages are the packages whose functions stay short: the write
// path and the table services.
var longFuncPackages = []string{"writer", "compactor", "cleaner", "filegroup", "rollback"}

// TestFunctionLength fails on a function of the write-path packages longer
// than maxFuncLines lines, unless its doc comment gives the reason with a
// line starting "Long:".
func TestFunctionLength(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	checked := 0
	for _, pkg := range longFuncPackages {
		dir := filepath.Join(root, pkg)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err, pkg)
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
			require.NoError(t, err)
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				checked++
				n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				if n <= maxFuncLines || strings.Contains(fd.Doc.Text(), "Long:") {
					continue
				}
				t.Errorf("%s/%s: %s is %d lines (at most %d, or a doc comment line \"Long: <reason>\")",
					pkg, e.Name(), fd.Name.Name, n, maxFuncLines)
			}
		}
	}
	require.Greater(t, checked, 100, "functions checked")
}
