package table

import (
	"context"
	"fmt"
	"path"

	"github.com/hoodie-lake/hoodie/internal/storage"
)

// LogVersions lists the log versions that exist for file group (partition,
// fileID) on the slice of base instant baseInstant: one delimited LIST of
// the group's files in its partition.
func LogVersions(ctx context.Context, st storage.Storage, partition, fileID, baseInstant string) (map[int]bool, error) {
	prefix := "." + fileID + "_"
	if partition != "" {
		prefix = partition + "/" + prefix
	}
	taken := map[int]bool{}
	for obj, err := range st.List(ctx, prefix, "/") {
		if err != nil {
			return nil, fmt.Errorf("table: log versions of %s/%s: %w", partition, fileID, err)
		}
		if lf, err := ParseLogFileName(path.Base(obj.Path)); err == nil && lf.FileID == fileID && lf.BaseInstant == baseInstant {
			taken[lf.Version] = true
		}
	}
	return taken, nil
}

// NextLogVersion is one past the highest version taken (1 when none). New
// log files always follow the newest: Hudi's readers process log files in
// version order, and a block of a later instant placed before earlier ones
// stops their scan (time travel) or reorders the merge.
func NextLogVersion(taken map[int]bool) int {
	v := 0
	for t := range taken {
		v = max(v, t)
	}
	return v + 1
}
