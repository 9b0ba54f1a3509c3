package treefile

import (
	"fmt"
	"strings"
)

// Error is one problem in a tree file, at a position, with the lines around
// it. Syntax errors and arbor's own checks (an unknown strategy, a bad
// duration, a duplicate name) have the same shape.
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line"`   // 1-based; 0 if unknown
	Column  int    `json:"column"` // 1-based; 0 if unknown
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Excerpt shows the offending line, the two before it, and a caret
	// under the column.
	Excerpt string `json:"excerpt,omitempty"`
}

// Error returns "file:line:column: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem found in a tree file, in file order.
type Errors []*Error

// Error returns each error's line followed by its excerpt.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.Error())
		if e.Excerpt != "" {
			b.WriteString("\n")
			b.WriteString(e.Excerpt)
		}
	}
	return b.String()
}

// excerpt renders line (1-based) and the two before it from src, each with
// its number, the offending one marked with '>', and a caret under col.
func excerpt(lines []string, line, col int) string {
	if line < 1 || line > len(lines) {
		return ""
	}
	var b strings.Builder
	for l := max(1, line-2); l <= line; l++ {
		mark := "  "
		if l == line {
			mark = "> "
		}
		fmt.Fprintf(&b, "%s%4d | %s\n", mark, l, strings.TrimRight(lines[l-1], "\r"))
	}
	if col < 1 {
		col = 1
	}
	// Keep tabs under tabs, so the caret lines up in a terminal.
	pad := []rune(lines[line-1])
	if col-1 < len(pad) {
		pad = pad[:col-1]
	}
	var under strings.Builder
	for _, r := range pad {
		if r == '\t' {
			under.WriteRune('\t')
		} else {
			under.WriteRune(' ')
		}
	}
	for range col - 1 - len(pad) {
		under.WriteRune(' ')
	}
	fmt.Fprintf(&b, "         %s^", under.String())
	return b.String()
}

// suggest returns the candidate nearest to s, if it is a likely typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
