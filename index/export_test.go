package index

import "time"

// WaitMerges waits until no background merge is running or due.
func WaitMerges(x *Index) {
	for {
		x.mergeMu.Lock()
		x.writeMu.Lock()
		idle := !x.merging.Load() && pickMerge(x.data.runs) < 0
		x.writeMu.Unlock()
		x.mergeMu.Unlock()
		if idle {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
