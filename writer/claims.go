package writer

import (
	"context"
	"fmt"
	"strings"
)

// checkClaims fails with ErrClaimed when a write completed on the table
// since co.Accounted (other than T) claimed one of co.Claims. In
// optimistic mode it runs after claimSlot, which checked the commits in
// flight: a commit completed after this check took its slot after T's
// and checks T's claims itself.
func (w *Writer) checkClaims(ctx context.Context, T string, co *CommitOptions) error {
	if len(co.Claims) == 0 || co.Accounted == nil {
		return nil
	}
	now, err := w.refresh(ctx)
	if err != nil {
		return err
	}
	mine := claimSet(co.Claims)
	for _, inst := range now.Completed() {
		if inst.Timestamp == T || !inst.IsWriteAction() || co.Accounted.IsCompleted(inst.Timestamp) {
			continue
		}
		md, err := w.state.meta.CommitMetadata(ctx, w.st, inst)
		if err != nil {
			return fmt.Errorf("writer: claims: %w", err)
		}
		if u := claimOverlap(mine, md.ExtraMetadata[ClaimsKey]); u != "" {
			return fmt.Errorf("%w: %s %s, completed after the positions were read, consumed %s", ErrClaimed, inst.Action, inst.Timestamp, u)
		}
	}
	return nil
}

func claimSet(claims []string) map[string]bool {
	m := make(map[string]bool, len(claims))
	for _, c := range claims {
		m[c] = true
	}
	return m
}

// claimOverlap returns a unit of the comma-separated list that mine
// holds, or "".
func claimOverlap(mine map[string]bool, list string) string {
	if len(mine) == 0 || list == "" {
		return ""
	}
	for _, u := range strings.Split(list, ",") {
		if mine[u] {
			return u
		}
	}
	return ""
}

// slotClaimOverlap is claimOverlap for a slot's recorded claims.
func slotClaimOverlap(mine map[string]bool, s slot) string {
	for _, u := range s.Claims {
		if mine[u] {
			return u
		}
	}
	return ""
}
