package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/bellsync/bellsync/engine/apply"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"golang.org/x/term"
)

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeDiags prints diagnostics with file:line:col and a source snippet,
// the way HCL's own tools do.
func writeDiags(w io.Writer, diags hcl.Diagnostics, color bool) {
	if len(diags) == 0 {
		return
	}
	parser := hclparse.NewParser()
	for _, d := range diags {
		if d.Subject != nil && d.Subject.Filename != "" {
			// Parsing again only to show the snippet; errors are already
			// in diags.
			_, _ = parser.ParseHCLFile(d.Subject.Filename)
		}
	}
	tw := hcl.NewDiagnosticTextWriter(w, parser.Files(), 100, color)
	for _, d := range diags {
		if d.Subject != nil && parser.Files()[d.Subject.Filename] == nil {
			// The file itself is the problem (not found): no snippet to show.
			fmt.Fprintf(w, "Error: %s\n\n%s\n\n", d.Summary, d.Detail)
			continue
		}
		if d.Subject != nil {
			fmt.Fprintf(w, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		_ = tw.WriteDiagnostic(d)
	}
}

// progress shows "done of total, rate, time left" on a terminal and stays
// quiet otherwise, so logs and CI output are not full of carriage returns.
type progress struct {
	w   io.Writer
	tty bool

	// mu guards the fields below.
	mu     sync.Mutex
	total  int
	done   int
	failed int
	stale  []string
	start  time.Time
	last   time.Time
}

func newProgress(w io.Writer, tty bool) *progress { return &progress{w: w, tty: tty} }

func (p *progress) Started(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.start = total, time.Now()
}

func (p *progress) Done(ch plan.Change, out apply.Outcome, _ error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if out == apply.Stale {
		r := ch.Source
		if ch.Side == plan.SideSource || r.ID == "" {
			r = ch.Target
		}
		p.stale = append(p.stale, r.String())
	}
	if out == apply.Failed {
		p.failed++
	}
	if !p.tty || time.Since(p.last) < 100*time.Millisecond && p.done < p.total {
		return
	}
	p.last = time.Now()
	elapsed := time.Since(p.start).Seconds()
	rate := float64(p.done) / max(elapsed, 0.001)
	left := time.Duration(float64(p.total-p.done)/max(rate, 0.001)) * time.Second
	fmt.Fprintf(p.w, "\r  applying: %d of %d (%.1f/s, %s left, %d failed)   ", p.done, p.total, rate, left.Round(time.Second), p.failed)
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.total > 0 {
		fmt.Fprintln(p.w)
	}
}

// skipped names the records skipped because they moved since the plan.
func (p *progress) skipped() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stale...)
}
