package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// PeersModule is the module path of the peer module (bench/peers).
const PeersModule = "github.com/hoodie-lake/hoodie/bench/peers"

// rootModule is the module path of hoodie itself.
const rootModule = "github.com/hoodie-lake/hoodie"

// FindPeersDir returns the directory of the peer module: dir when given
// (it must hold the module's go.mod), otherwise bench/peers under the
// hoodie module that holds the current directory (found through `go env
// GOMOD`, or by walking up to a go.mod of module github.com/hoodie-lake/hoodie).
func FindPeersDir(ctx context.Context, dir string) (string, error) {
	if dir != "" {
		if err := checkModule(dir, PeersModule); err != nil {
			return "", err
		}
		return filepath.Abs(dir)
	}
	var roots []string
	if out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output(); err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			roots = append(roots, filepath.Dir(gomod))
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if checkModule(d, rootModule) == nil {
				roots = append(roots, d)
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, r := range roots {
		// GOMOD may name bench/peers itself or the root module.
		for _, cand := range []string{r, filepath.Join(r, "bench", "peers")} {
			if checkModule(cand, PeersModule) == nil {
				return cand, nil
			}
		}
	}
	return "", errors.New("no bench/peers module under the current directory's hoodie module")
}

// checkModule reports whether dir holds a go.mod declaring module mod.
func checkModule(dir, mod string) error {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			if strings.Trim(f[1], `"`) == mod {
				return nil
			}
			return fmt.Errorf("%s is module %s, not %s", filepath.Join(dir, "go.mod"), f[1], mod)
		}
	}
	return fmt.Errorf("%s declares no module", filepath.Join(dir, "go.mod"))
}

// BuildPeers builds the peer module in dir with `go build` into outDir and
// returns the binary's path.
func BuildPeers(ctx context.Context, dir, outDir string) (string, error) {
	bin := filepath.Join(outDir, "hoodie-bench-peers")
	// No symbol table or DWARF: the link, redone every run, is much faster.
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build in %s: %w\n%s", dir, err, tail(string(out), 4000))
	}
	return bin, nil
}
