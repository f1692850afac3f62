package engine

import "context"

// BatchJournal is a Journal that can make several events durable at once:
// all of them, in order, in one commit, or none. The engine uses it for the
// intents of actions it launches together (all durable before the first
// acts) and for their outcomes. store.Store implements it.
type BatchJournal interface {
	Journal
	AppendBatch(ctx context.Context, evs []Event) error
}

// AppendAll makes evs durable in order: in one commit when j is a
// BatchJournal, else one Append each (stopping at the first error, so that
// what is durable is a prefix of evs).
func AppendAll(ctx context.Context, j Journal, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	if bj, ok := j.(BatchJournal); ok && len(evs) > 1 {
		return bj.AppendBatch(ctx, evs)
	}
	for _, ev := range evs {
		if err := j.Append(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}
