package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/stretchr/testify/require"
)

// TestLocalCreateRacesPruning: Delete removes the directories it leaves
// empty; a Create of a key below one of them at the same moment (a writer
// making its marker directory while another deletes its last marker) must
// still succeed.
func TestLocalCreateRacesPruning(t *testing.T) {
	ctx := context.Background()
	st, err := storage.NewLocal(t.TempDir())
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := fmt.Sprintf(".hoodie/.temp/001/p%d/deep/m%d.marker", w, i)
				f, err := st.Create(ctx, key, storage.CreateOptions{})
				if err != nil {
					errs <- err
					return
				}
				if _, err := f.Write([]byte("x")); err != nil {
					errs <- err
					return
				}
				if err := f.Close(); err != nil {
					errs <- err
					return
				}
				if err := st.Delete(ctx, key); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
