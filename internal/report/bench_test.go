package report

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// bigDoc is the sample stretched to n steps, each with a gate and a check.
func bigDoc(n int) *Doc {
	doc := Sample()
	base := doc.Timeline[0].Started
	doc.Timeline, doc.Gates, doc.Validation = nil, nil, nil
	for i := 0; i < n; i++ {
		from := base.Add(time.Duration(i) * time.Minute)
		id := fmt.Sprintf("step-%05d", i)
		doc.Timeline = append(doc.Timeline, Step{Order: i + 1, ID: id, Kind: "exec", Site: "lyon-sud", Action: "exec on erp-web: true",
			Started: from, Ended: from.Add(50 * time.Second), Duration: 50 * time.Second, Result: "succeeded", Targets: []string{"erp-web"}})
		doc.Gates = append(doc.Gates, Gate{Step: id, Kind: "confirm", Prompt: "continue?", Opened: from, Closed: from.Add(10 * time.Second), Wait: 10 * time.Second, Required: 1,
			Decisions: []Decision{{By: "Claire Martin", At: from.Add(10 * time.Second), Approved: true}}})
		doc.Validation = append(doc.Validation, Check{Step: id, Name: "check", At: from.Add(50 * time.Second), OK: true, Output: "ok\nok\n"})
	}
	doc.Identification.Ended = base.Add(time.Duration(n) * time.Minute)
	return doc
}

func BenchmarkRender(b *testing.B) {
	for _, n := range []int{12, 1000} {
		doc := Sample()
		if n != len(doc.Timeline) {
			doc = bigDoc(n)
		}
		for _, format := range Formats {
			b.Run(fmt.Sprintf("%s/%dsteps", format, n), func(b *testing.B) {
				for b.Loop() {
					if err := Render(io.Discard, doc, format, "fr"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkTimelineText(b *testing.B) {
	doc := bigDoc(1000)
	for b.Loop() {
		TimelineText(doc, 80)
	}
}
