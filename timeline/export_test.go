package timeline

import (
	"context"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
)

// BeginAt is Begin with a clock, for tests.
func BeginAt(ctx context.Context, st storage.Storage, action Action, content []byte, now func() time.Time) (*Txn, error) {
	return Begin(ctx, st, action, content, BeginOptions{now: now})
}
