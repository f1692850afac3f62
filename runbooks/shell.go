package runbooks

import (
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ShellQuote returns s as one POSIX shell word: single-quoted, each single
// quote in s closed, escaped and reopened. Nothing inside single quotes is
// special to sh, so the value can hold ;, $(…), backquotes, quotes or
// newlines and is still one argument.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shell contexts a ${var} can appear in.
type shellCtx int

const (
	shTop    shellCtx = iota // unquoted
	shSingle                 // '…' (and $'…')
	shDouble                 // "…"
	shBack                   // `…`
	shCmd                    // $(…): unquoted again
	shParam                  // the shell's own ${…} (written $${ in a runbook)
	shArith                  // $((…))
)

var shellCtxName = map[shellCtx]string{
	shSingle: "inside single quotes",
	shDouble: "inside double quotes",
	shBack:   "inside `backquotes`",
	shParam:  "inside a shell ${…} expansion",
	shArith:  "inside a $((…)) arithmetic expansion",
}

// expandShell substitutes vars in a shell line. Each ${name} becomes one
// shell word, quoted by repli (ShellQuote); a list var becomes one quoted
// word per entry. A value can then never be read as shell syntax, whatever
// it holds: `--var 'target=x; touch /tmp/pwned'` passes the text
// "x; touch /tmp/pwned" as one argument.
//
// Quoting is only sound where the shell reads quotes, that is outside any
// quotes. A ${name} written inside '…', "…", `…` or after a here-document is
// refused with its position: inside '…' the runbook's own quote would be
// closed by repli's, and inside "…" or `…` the shell treats the value's $ and
// ` as syntax. Refusing (drop the quotes, repli quotes it) is one rule people
// can check by eye; escaping per context would need a full shell parser to
// be right, and getting it wrong once runs the value.
func (p *parser) expandShell(n *yaml.Node, what, s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	sc := &shellScan{p: p, n: n, what: what, s: s, stack: []shellCtx{shTop}, seen: map[string]int{}, wordStart: true}
	for sc.i < len(s) {
		sc.step()
	}
	return sc.out.String()
}

// shellScan is expandShell's walk over one shell line: where it is, the
// stack of quoting contexts it is in, and what it has written.
type shellScan struct {
	p    *parser
	n    *yaml.Node
	what string
	s    string
	i    int
	out  strings.Builder

	stack          []shellCtx
	heredoc, ansiC bool
	seen           map[string]int // occurrences of each reference so far, to find its column
	wordStart      bool
}

func (sc *shellScan) top() shellCtx   { return sc.stack[len(sc.stack)-1] }
func (sc *shellScan) push(c shellCtx) { sc.stack = append(sc.stack, c) }
func (sc *shellScan) pop() {
	if len(sc.stack) > 1 {
		sc.stack = sc.stack[:len(sc.stack)-1]
	}
}

// emit writes tok, which the line has at the current place, and moves past it.
func (sc *shellScan) emit(tok string) {
	sc.out.WriteString(tok)
	sc.i += len(tok)
}

// step reads what starts at the current place: a reference, else one
// character (or token) in the current quoting context.
func (sc *shellScan) step() {
	rest := sc.s[sc.i:]
	// $${ is a literal ${ for the shell's own parameter expansion.
	if strings.HasPrefix(rest, escapedRef) {
		sc.out.WriteString("${")
		if sc.top() != shSingle {
			sc.push(shParam)
		}
		sc.i += len(escapedRef)
		sc.wordStart = false
		return
	}
	if m := varRef.FindStringSubmatchIndex(rest); m != nil && m[0] == 0 {
		sc.ref(rest[:m[1]], rest[m[2]:m[3]])
		return
	}
	var done bool
	switch ctx := sc.top(); ctx {
	case shSingle:
		if sc.s[sc.i] == '\'' {
			sc.pop()
		}
	case shDouble, shBack:
		done = sc.quoted(ctx, rest)
	default: // unquoted: top level, $(…), the shell's ${…}, $((…))
		done = sc.unquoted(ctx, rest)
	}
	if done {
		return
	}
	c := sc.s[sc.i]
	sc.wordStart = strings.IndexByte(" \t\n;&|()<>", c) >= 0
	sc.out.WriteByte(c)
	sc.i++
}

// ref writes the replacement of the reference ref to var name.
func (sc *shellScan) ref(ref, name string) {
	k := sc.seen[ref]
	sc.seen[ref]++
	ctx := sc.top()
	for _, c := range sc.stack {
		if c == shBack { // inside `…` the value's own ` would end the command
			ctx = shBack
		}
	}
	sc.out.WriteString(sc.p.shellVar(sc.n, sc.what, ref, name, k, ctx, sc.heredoc, sc.ansiC))
	sc.i += len(ref)
	sc.wordStart = false
}

// backslash writes a backslash and the character it escapes, and reports
// true; or it refuses a reference right after it, writes the backslash
// alone, and reports false.
func (sc *shellScan) backslash() bool {
	if sc.p.escapedVar(sc.n, sc.what, sc.s[sc.i+1:], sc.seen) {
		sc.out.WriteByte('\\')
		sc.i++
		return false
	}
	sc.emit(sc.s[sc.i : sc.i+2])
	return true
}

// subst opens a $((…)), $(…) or ${…} that starts rest, if one does.
func (sc *shellScan) subst(rest string) bool {
	switch {
	case strings.HasPrefix(rest, "$(("):
		sc.push(shArith)
		sc.emit("$((")
	case strings.HasPrefix(rest, "$("):
		sc.push(shCmd)
		sc.emit("$(")
	case strings.HasPrefix(rest, "${"):
		sc.push(shParam)
		sc.emit("${")
	default:
		return false
	}
	return true
}

// quoted reads inside "…" or `…`; it reports whether it wrote what it read.
func (sc *shellScan) quoted(ctx shellCtx, rest string) bool {
	c := sc.s[sc.i]
	switch {
	case c == '\\' && sc.i+1 < len(sc.s):
		sc.backslash()
		return true
	case c == '"' && ctx == shDouble, c == '`' && ctx == shBack:
		sc.pop()
	case c == '`':
		sc.push(shBack)
	default:
		return sc.subst(rest)
	}
	return false
}

// unquoted reads outside quotes; it reports whether it wrote what it read.
func (sc *shellScan) unquoted(ctx shellCtx, rest string) bool {
	c := sc.s[sc.i]
	switch {
	case c == '\\' && sc.i+1 < len(sc.s):
		if sc.backslash() {
			sc.wordStart = false
		}
		return true
	case c == '#' && sc.wordStart && (ctx == shTop || ctx == shCmd):
		// A comment runs to the end of the line; its quotes mean nothing.
		end := strings.IndexByte(rest, '\n')
		if end < 0 {
			end = len(rest)
		}
		sc.emit(rest[:end])
		return true
	case strings.HasPrefix(rest, "$'"):
		sc.ansiC = true // bash reads $'…' as a quote, dash does not
		sc.push(shSingle)
		sc.emit("$'")
		return true
	case sc.subst(rest):
		return true
	case strings.HasPrefix(rest, "))") && ctx == shArith:
		sc.pop()
		sc.emit("))")
		return true
	}
	sc.unquotedChar(ctx, c, rest)
	return false
}

// unquotedChar updates the quoting context for one unquoted character,
// which the caller then writes.
func (sc *shellScan) unquotedChar(ctx shellCtx, c byte, rest string) {
	switch {
	case c == '\'':
		sc.push(shSingle)
	case c == '"':
		sc.push(shDouble)
	case c == '`':
		sc.push(shBack)
	case c == '(' && (ctx == shCmd || ctx == shArith):
		sc.push(ctx)
	case c == ')' && ctx == shCmd:
		sc.pop()
	case c == ')' && ctx == shArith:
		sc.pop()
	case c == '}' && ctx == shParam:
		sc.pop()
	case strings.HasPrefix(rest, "<<") && (ctx == shTop || ctx == shCmd):
		sc.heredoc = true
	}
}

// escapedVar refuses a ${name} right after a backslash: the backslash would
// escape repli's opening quote and leave the value unquoted.
func (p *parser) escapedVar(n *yaml.Node, what, after string, seen map[string]int) bool {
	m := varRef.FindStringSubmatchIndex(after)
	if m == nil || m[0] != 0 {
		return false
	}
	ref := after[:m[1]]
	p.errAt(p.refPos(n, ref, seen[ref]), "%s: %s comes right after a backslash in a shell line; drop the backslash (repli quotes the value as one word), or write $${ for a literal ${", what, ref)
	return true
}

// shellVar is the replacement of one ${name} in a shell line.
func (p *parser) shellVar(n *yaml.Node, what, ref, name string, k int, ctx shellCtx, heredoc, ansiC bool) string {
	v, ok := p.vars[name]
	switch {
	case !ok:
		p.errAt(p.refPos(n, ref, k), "unknown var %q%s", name, suggest(name, p.varNames()))
		return ref
	case v.Secret:
		p.errAt(p.refPos(n, ref, k), "%s: var %q holds a secret (--secret-var), passed only as a whole env value (env: {NAME: ${%s}}); read it from the environment in the command", what, name, name)
		return ref
	case ctx == shBack:
		p.errAt(p.refPos(n, ref, k), "%s: %s is inside `backquotes` in a shell line, where a ` in its value would end the command; use $(…) instead, in which repli quotes it", what, ref)
		return ref
	case ctx != shTop && ctx != shCmd:
		p.errAt(p.refPos(n, ref, k), "%s: %s is %s in a shell line; drop the quotes: repli quotes every var as one shell word", what, ref, shellCtxName[ctx])
		return ref
	case heredoc:
		p.errAt(p.refPos(n, ref, k), "%s: %s comes after a here-document (<<) in a shell line, where repli cannot quote it; pass it in env: and use \"$NAME\"", what, ref)
		return ref
	case ansiC:
		p.errAt(p.refPos(n, ref, k), "%s: %s is in a shell line that uses $'…', which bash and dash read differently, so repli cannot tell whether it is quoted; use '…' or \"…\" instead", what, ref)
		return ref
	case v.IsList:
		words := make([]string, len(v.List))
		for i, w := range v.List {
			words[i] = ShellQuote(w)
		}
		return strings.Join(words, " ")
	}
	return ShellQuote(v.Value)
}

// refPos finds the k-th (0-based) occurrence of a var reference inside a
// scalar in the source, for a message that points at the reference itself;
// the scalar's own position when it cannot be found (an escaped form).
func (p *parser) refPos(n *yaml.Node, ref string, k int) Pos {
	if n == nil || p.src == nil {
		return posOf(n)
	}
	off := lineOffset(p.src, n.Line)
	if off < 0 {
		return posOf(n)
	}
	// The scalar starts at its column (counted in characters).
	line := p.src[off:]
	for col := 1; col < n.Column && len(line) > 0; col++ {
		_, size := utf8.DecodeRune(line)
		line = line[size:]
		off += size
	}
	text := string(p.src[off:])
	at := -1
	for j := 0; j <= k; j++ {
		next := strings.Index(text[at+1:], ref)
		if next < 0 {
			return posOf(n)
		}
		at += 1 + next
		if at > 0 && text[at-1] == '$' { // $${name} is not a reference
			j--
		}
	}
	abs := off + at
	ln := 1 + strings.Count(string(p.src[:abs]), "\n")
	start := strings.LastIndexByte(string(p.src[:abs]), '\n') + 1
	return Pos{ln, 1 + utf8.RuneCount(p.src[start:abs])}
}

// lineOffset is the byte offset of a 1-based line in src, or -1.
func lineOffset(src []byte, line int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(string(src[off:]), '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	return off
}
