package crashcampaign

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// operator answers a plain console's prompts on its stdin, as a person at
// the console would: every gate approved (typed gates get their word,
// checklist items ticked), and a command in doubt decided from what the
// counter file says of it (mark it done when it ran to its end, re-run it
// when it did not and repli offers that). It is used only to resume a run
// with a command in doubt, which --auto-approve rightly aborts.
type operator struct {
	in     io.Writer
	decide func(prompt string) string // answer to a failure prompt: "m", "r" or "a"

	mu   sync.Mutex
	tail bytes.Buffer // output since the last newline
	all  bytes.Buffer
}

var typedPrompt = regexp.MustCompile(`type ("(?:[^"\\]|\\.)*") to proceed, anything else refuses: $`)

// Write receives the console's output and answers complete prompts.
func (o *operator) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all.Write(p)
	for _, b := range p {
		if b == '\n' {
			o.tail.Reset()
			continue
		}
		o.tail.WriteByte(b)
		if b == ' ' {
			if ans, ok := o.answer(o.tail.String()); ok {
				o.tail.Reset()
				_, _ = io.WriteString(o.in, ans+"\n")
			}
		}
	}
	return len(p), nil
}

// answer is the reply to a complete prompt line, if it is one.
func (o *operator) answer(line string) (string, bool) {
	switch {
	case strings.HasSuffix(line, "— done? type y: "),
		strings.HasSuffix(line, "y to confirm, anything else refuses: "):
		return "y", true
	case strings.HasSuffix(line, "answer (kept in the audit trail): "):
		return "crash campaign", true
	case typedPrompt.MatchString(line):
		q := typedPrompt.FindStringSubmatch(line)[1]
		w, err := strconv.Unquote(q)
		if err != nil {
			return "", false
		}
		return w, true
	case strings.HasSuffix(line, ": ") && strings.Contains(line, "a abort the run"):
		return o.decide(line), true
	}
	return "", false
}

func (o *operator) output() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.all.String()
}
