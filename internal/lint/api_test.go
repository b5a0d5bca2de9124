package lint

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPublicAPIHidesInternal walks the exported API of every public package
// (every package of the module outside internal/, cmd/, examples/, interop/
// and testdata/) and fails on any exported identifier whose declaration
// mentions a type of an internal/ package: a program outside this module
// could not name that type, so it could not use the identifier.
//
// Checked: exported functions and methods of exported types (parameters and
// results), exported types (for structs, the exported and the embedded
// fields; for interfaces, every method), and exported variables and
// constants (their declared type, or the package of the function whose
// result initialises them).
func TestPublicAPIHidesInternal(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	pkgs := 0
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		first, _, _ := strings.Cut(rel, "/")
		switch {
		case strings.HasPrefix(d.Name(), ".") && rel != ".":
			return filepath.SkipDir
		case first == "internal" || first == "cmd" || first == "examples" || first == "interop" || d.Name() == "testdata":
			return filepath.SkipDir
		}
		n, errs := checkPackageAPI(path, rel)
		if n > 0 {
			pkgs++
		}
		for _, e := range errs {
			t.Error(e)
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, pkgs, 8, "public packages checked")
}

// checkPackageAPI checks the non-test files of one directory.
func checkPackageAPI(dir, rel string) (files int, errs []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, []string{err.Error()}
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return files, []string{err.Error()}
		}
		if f.Name.Name == "main" {
			continue
		}
		files++
		internal := map[string]string{} // local import name → path
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.Contains("/"+p+"/", "/internal/") {
				continue
			}
			local := p[strings.LastIndex(p, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			internal[local] = p
		}
		if len(internal) == 0 {
			continue
		}
		report := func(what string, n ast.Node) {
			for _, p := range mentions(n, internal) {
				errs = append(errs, fmt.Sprintf("%s/%s: exported %s mentions %s", rel, name, what, p))
			}
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() || (d.Recv != nil && !exportedRecv(d.Recv)) {
					continue
				}
				report(funcName(d), d.Type)
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							report("type "+s.Name.Name, exportedShape(s.Type))
						}
					case *ast.ValueSpec:
						for i, id := range s.Names {
							if !id.IsExported() {
								continue
							}
							if s.Type != nil {
								report(id.Name, s.Type)
							} else if i < len(s.Values) {
								if c, ok := s.Values[i].(*ast.CallExpr); ok {
									report(id.Name, c.Fun)
								}
							}
						}
					}
				}
			}
		}
	}
	return files, errs
}

// exportedShape returns the part of a type expression an importer sees:
// a struct without its unexported, non-embedded fields.
func exportedShape(e ast.Expr) ast.Node {
	st, ok := e.(*ast.StructType)
	if !ok {
		return e
	}
	out := &ast.StructType{Fields: &ast.FieldList{}}
	for _, f := range st.Fields.List {
		keep := len(f.Names) == 0
		for _, n := range f.Names {
			keep = keep || n.IsExported()
		}
		if keep {
			out.Fields.List = append(out.Fields.List, f)
		}
	}
	return out
}

// mentions lists the internal packages whose identifiers n names.
func mentions(n ast.Node, internal map[string]string) []string {
	var out []string
	ast.Inspect(n, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				if p, ok := internal[id.Name]; ok {
					out = append(out, p+"."+sel.Sel.Name)
				}
			}
		}
		return true
	})
	return out
}

func exportedRecv(fl *ast.FieldList) bool {
	if len(fl.List) == 0 {
		return false
	}
	t := fl.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.IsExported()
		default:
			return false
		}
	}
}

func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil {
		return "func " + d.Name.Name
	}
	return "method " + d.Name.Name
}
