package apply

import (
	"context"
	"log/slog"

	"github.com/bellsync/bellsync/engine/plan"
)

// LogHooks returns hooks that log each change's outcome, then call next
// (which may be nil), at debug level (-v): the apply's own output already
// lists failures, so they are not repeated at a louder level. Records are named by sync, side and ids only: a change's label
// and values hold people's names, emails and phones, and field values
// marked sensitive are secrets.
func LogHooks(log *slog.Logger, next Hooks) Hooks {
	if next == nil {
		next = NopHooks{}
	}
	return logHooks{log: log, next: next}
}

type logHooks struct {
	log  *slog.Logger
	next Hooks
}

func (h logHooks) Started(total int) {
	h.log.Debug("apply started", "changes", total)
	h.next.Started(total)
}

func (h logHooks) Done(ch plan.Change, out Outcome, err error) {
	ctx := context.Background()
	if h.log.Enabled(ctx, slog.LevelDebug) {
		fields := make([]string, 0, len(ch.Fields)+len(ch.Reverse))
		for _, f := range ch.Fields {
			fields = append(fields, f.Field)
		}
		for _, f := range ch.Reverse {
			fields = append(fields, "reverse:"+f.Field)
		}
		attrs := []slog.Attr{slog.String("sync", ch.Sync), slog.String("action", ch.Action.String()),
			slog.String("side", string(ch.Side)), slog.String("source", ch.Source.ID), slog.String("target", ch.Target.ID),
			slog.Any("fields", fields), slog.String("outcome", string(out))}
		if err != nil {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		h.log.LogAttrs(ctx, slog.LevelDebug, "change", attrs...)
	}
	h.next.Done(ch, out, err)
}
