package table

import (
	"context"
	"fmt"

	"github.com/hoodie-lake/hoodie/storage"
)

// readOnlyStorage is the Storage of a table OpenForRead opened read-only:
// reads and listings pass through; every Create and Delete fails with err
// (which says why the table may not be written) before touching the store.
type readOnlyStorage struct {
	storage.Storage
	err error
}

func (s *readOnlyStorage) Create(_ context.Context, path string, _ storage.CreateOptions) (storage.Writer, error) {
	return nil, fmt.Errorf("table: create %s: %w", path, s.err)
}

func (s *readOnlyStorage) Delete(_ context.Context, path string) error {
	return fmt.Errorf("table: delete %s: %w", path, s.err)
}

// Inner is the wrapped store (storage.FullPath and KeyOf look through it).
func (s *readOnlyStorage) Inner() storage.Storage { return s.Storage }
