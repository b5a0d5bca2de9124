package timeline

import (
	"context"
	"fmt"

	"github.com/hoodie-lake/hoodie/internal/storage"
)

// MarkerDir is the folder of instant's markers, ending with "/".
func MarkerDir(instant string) string { return MetaFolder + "/.temp/" + instant + "/" }

// MarkerPath is Hudi's marker of a data file written by instant:
// .hoodie/.temp/<instant>/<partition>/<file name>.marker.<CREATE|MERGE|APPEND>.
// Writers create it before the data file, so a rollback finds every file.
func MarkerPath(instant, partition, name, kind string) string {
	p := MarkerDir(instant)
	if partition != "" {
		p += partition + "/"
	}
	return p + name + ".marker." + kind
}

// DeleteMarkers removes instant's markers, as Hudi does once it completed.
func DeleteMarkers(ctx context.Context, st storage.Storage, instant string) error {
	var keys []string
	for obj, err := range st.List(ctx, MarkerDir(instant), "") {
		if err != nil {
			return fmt.Errorf("timeline: delete markers of %s: %w", instant, err)
		}
		keys = append(keys, obj.Path)
	}
	for _, k := range keys {
		if err := st.Delete(ctx, k); err != nil {
			return fmt.Errorf("timeline: delete markers of %s: %w", instant, err)
		}
	}
	return nil
}
