package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Languages are the report's languages, in the order they are offered.
var Languages = []string{"en", "fr"}

// Formats are the report's formats.
var Formats = []string{"html", "md", "json"}

// lang formats words, dates, durations and numbers in one language.
type lang struct {
	code string
}

func newLang(code string) (lang, error) {
	for _, l := range Languages {
		if l == code {
			return lang{code: code}, nil
		}
	}
	return lang{}, fmt.Errorf("unknown report language %q: use %s", code, strings.Join(Languages, " or "))
}

// T is the message for key. A missing key shows as ⟦key⟧, which the tests
// look for in every rendered report.
func (l lang) T(key string) string {
	if m, ok := messages[key]; ok {
		if s := m[l.code]; s != "" {
			return s
		}
	}
	return "⟦" + key + "⟧"
}

// Tf is T used as a format.
func (l lang) Tf(key string, args ...any) string { return fmt.Sprintf(l.T(key), args...) }

// Word is the translation of a recorded value (an outcome, a result, a kind)
// under prefix, or the value itself when the catalogue has no word for it:
// values come from outside and may be new.
func (l lang) Word(prefix, value string) string {
	if m, ok := messages[prefix+"."+value]; ok && m[l.code] != "" {
		return m[l.code]
	}
	return value
}

var monthsFR = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

// Date is a day and minute in UTC: "30 November 2026 at 14:05 (UTC)",
// "30 novembre 2026 à 14:05 (UTC)". A zero time is "—".
func (l lang) Date(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.UTC()
	if l.code == "fr" {
		return fmt.Sprintf("%d %s %d à %02d:%02d (UTC)", t.Day(), monthsFR[t.Month()-1], t.Year(), t.Hour(), t.Minute())
	}
	return fmt.Sprintf("%d %s %d at %02d:%02d (UTC)", t.Day(), t.Month(), t.Year(), t.Hour(), t.Minute())
}

// Day is a calendar day: "29 January 2027", "29 janvier 2027".
func (l lang) Day(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.UTC()
	if l.code == "fr" {
		return fmt.Sprintf("%d %s %d", t.Day(), monthsFR[t.Month()-1], t.Year())
	}
	return fmt.Sprintf("%d %s %d", t.Day(), t.Month(), t.Year())
}

// Clock is the time of day to the second, for rows of one day: "14:05:42".
func (l lang) Clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("15:04:05")
}

// Duration is "1 h 05 min", "4 min 30 s", "42 s" (the same in both
// languages, as French typography wants them; "0 s" for zero).
func (l lang) Duration(d time.Duration) string { return humanDuration(d) }

func humanDuration(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "−", -d
	}
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h >= 24:
		days := h / 24
		return fmt.Sprintf("%s%d j %d h", neg, days, h%24) // "j" reads as jour and is understood in English reports too
	case h > 0 && m == 0:
		return fmt.Sprintf("%s%d h", neg, h)
	case h > 0:
		return fmt.Sprintf("%s%d h %02d min", neg, h, m)
	case m > 0 && s > 0:
		return fmt.Sprintf("%s%d min %02d s", neg, m, s)
	case m > 0:
		return fmt.Sprintf("%s%d min", neg, m)
	default:
		return fmt.Sprintf("%s%d s", neg, s)
	}
}

// Percent is a share with one decimal: "28.4%", "28,4 %".
func (l lang) Percent(part, whole time.Duration) string {
	if whole <= 0 {
		return "—"
	}
	v := strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64)
	if l.code == "fr" {
		return strings.Replace(v, ".", ",", 1) + "\u202f%"
	}
	return v + "%"
}

// Number is an integer with thousands grouped: "1,000,000", "1 000 000".
func (l lang) Number(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sep := ","
	if l.code == "fr" {
		sep = "\u202f"
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// YesNo is the word for a boolean.
func (l lang) YesNo(b bool) string {
	if b {
		return l.T("yes")
	}
	return l.T("no")
}
