package evidence

import (
	"context"
	"strings"

	"github.com/repli-dr/repli/store"
)

// Viewers are the text views a history browser shows on demand: one run's
// view (as repli show prints it) and two runs side by side (as repli
// compare prints it), each loaded from the trail when asked.
func Viewers(ctx context.Context, s *store.Store, opts Options) (runView func(id int64, width int) (string, error), compare func(a, b int64, width int) (string, error)) {
	load := func(id int64) (*Run, error) { return Load(ctx, s, id, opts) }
	runView = func(id int64, width int) (string, error) {
		r, err := load(id)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		err = WriteShow(&b, r, width)
		return b.String(), err
	}
	compare = func(a, b int64, width int) (string, error) {
		ra, err := load(a)
		if err != nil {
			return "", err
		}
		rb, err := load(b)
		if err != nil {
			return "", err
		}
		var out strings.Builder
		err = Compare(ra, rb).WriteText(&out)
		return out.String(), err
	}
	return runView, compare
}
