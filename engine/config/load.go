package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/robfig/cron/v3"
)

// DefaultStatePath is where the state database lives when the config has
// no state block, relative to the config's directory.
const DefaultStatePath = ".bellsync/state.db"

// DefaultListen is the webhook listen address when the webhooks block
// does not name one. Loopback only, so a daemon is never exposed by
// accident.
const DefaultListen = "127.0.0.1:8080"

// DefaultFullEvery is how often `bellsync run` does a full pass when the
// schedule block does not say.
const DefaultFullEvery = "24h"

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "state"},
		{Type: "provider", LabelNames: []string{"type"}},
		{Type: "sync", LabelNames: []string{"name"}},
		{Type: "schedule"},
		{Type: "webhooks"},
	},
}

var stateSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "backend"},
		{Name: "path"},
	},
}

var scheduleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "cron", Required: true},
		{Name: "time_zone"},
		{Name: "full_every"},
	},
}

// webhooksSchema is partial: the daemon decodes the rest of the block
// (keys, secrets) itself.
var webhooksSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "listen"},
	},
}

// Load reads and decodes the config file at path. See [Parse].
func Load(path string) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Config file not found",
			Detail:   fmt.Sprintf("There is no file at %s. Create it, or pass -config FILE to use another one.", path),
			Subject:  &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read config file",
			Detail:   fmt.Sprintf("Reading %s failed: %s. Check that the file is readable.", path, err),
			Subject:  &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	return Parse(path, src)
}

// Parse decodes config source. filename is used in diagnostics and its
// directory becomes BaseDir, so a bare name such as "sync.hcl" resolves
// relative paths from the current directory.
//
// Parse returns nil after a syntax error. Otherwise it returns a Config
// even with error diagnostics, so callers such as `bellsync validate` can report
// everything at once; a Config that came with errors must not be used to
// plan or apply.
func Parse(filename string, src []byte) (*Config, hcl.Diagnostics) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		// The parser recovers by skipping tokens, so decoding what it
		// kept would report blocks as incomplete that are merely
		// misparsed.
		return nil, diags
	}
	cfg := &Config{
		Filename: filename,
		BaseDir:  filepath.Dir(filename),
		Hash:     meaningHash(src, filename),
	}
	evalCtx := EvalContext(nil, cfg.BaseDir)

	content, moreDiags := file.Body.Content(rootSchema)
	diags = append(diags, moreDiags...)

	providerByType := map[string]*Provider{}
	syncByName := map[string]*Sync{}
	for _, block := range content.Blocks {
		switch block.Type {
		case "state":
			if cfg.State != nil {
				diags = append(diags, duplicateBlock("state", cfg.State.DeclRange, block))
				continue
			}
			st, stDiags := decodeState(block, cfg.BaseDir, evalCtx)
			diags = append(diags, stDiags...)
			cfg.State = st
		case "provider":
			p := &Provider{
				Type:      block.Labels[0],
				Body:      block.Body,
				DeclRange: block.DefRange,
				TypeRange: block.LabelRanges[0],
			}
			if prev, ok := providerByType[p.Type]; ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate provider block",
					Detail: fmt.Sprintf("A provider %q block was already declared at %s. "+
						"Each provider type can be configured once; remove one of the blocks.", p.Type, prev.DeclRange),
					Subject: &p.TypeRange,
				})
				continue
			}
			providerByType[p.Type] = p
			cfg.Providers = append(cfg.Providers, p)
		case "sync":
			s, sDiags := decodeSync(block, evalCtx)
			diags = append(diags, sDiags...)
			if prev, ok := syncByName[s.Name]; ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate sync block",
					Detail: fmt.Sprintf("A sync named %q was already declared at %s. "+
						"Sync names identify links in the state, so they must be unique; "+
						"rename or remove one of the blocks.", s.Name, prev.DeclRange),
					Subject: block.LabelRanges[0].Ptr(),
				})
				continue
			}
			syncByName[s.Name] = s
			cfg.Syncs = append(cfg.Syncs, s)
		case "schedule":
			if cfg.Schedule != nil {
				diags = append(diags, duplicateBlock("schedule", cfg.Schedule.DeclRange, block))
				continue
			}
			sch, schDiags := decodeSchedule(block, evalCtx)
			diags = append(diags, schDiags...)
			cfg.Schedule = sch
		case "webhooks":
			if cfg.Webhooks != nil {
				diags = append(diags, duplicateBlock("webhooks", cfg.Webhooks.DeclRange, block))
				continue
			}
			wh, whDiags := decodeWebhooks(block, evalCtx)
			diags = append(diags, whDiags...)
			cfg.Webhooks = wh
		}
	}

	if cfg.State == nil {
		start := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
		cfg.State = &State{
			Backend:   "sqlite",
			Path:      filepath.Join(cfg.BaseDir, DefaultStatePath),
			DeclRange: start,
		}
	}
	diags = append(diags, validateSyncRefs(cfg, providerByType, syncByName)...)
	sortDiagnostics(diags)
	return cfg, Redact(diags)
}

// sortDiagnostics puts diagnostics in source order, because checks that
// need the whole file run last but their findings read best in place.
func sortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		if a.Subject == nil || b.Subject == nil {
			return 0
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
}

func duplicateBlock(typ string, prev hcl.Range, block *hcl.Block) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s block", typ),
		Detail: fmt.Sprintf("A %s block was already declared at %s. Only one is allowed; merge the two blocks.",
			typ, prev),
		Subject: block.DefRange.Ptr(),
	}
}

func decodeState(block *hcl.Block, baseDir string, evalCtx *hcl.EvalContext) (*State, hcl.Diagnostics) {
	st := &State{Backend: "sqlite", Path: DefaultStatePath, DeclRange: block.DefRange}
	content, diags := block.Body.Content(stateSchema)
	if attr, ok := content.Attributes["backend"]; ok {
		v, vDiags := staticString(attr, evalCtx)
		diags = append(diags, vDiags...)
		switch {
		case vDiags.HasErrors():
		case v != "sqlite":
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported state backend",
				Detail: fmt.Sprintf("The state backend %q is not available; only \"sqlite\" is supported so far. "+
					"Set backend = \"sqlite\" or remove the attribute.", v),
				Subject: attr.Expr.Range().Ptr(),
			})
		default:
			st.Backend = v
		}
	}
	if attr, ok := content.Attributes["path"]; ok {
		v, vDiags := staticString(attr, evalCtx)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			if v == "" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Empty state path",
					Detail:   "The state path must name a file. Set a path or remove the attribute to use " + DefaultStatePath + ".",
					Subject:  attr.Expr.Range().Ptr(),
				})
			} else {
				st.Path = v
			}
		}
	}
	if !filepath.IsAbs(st.Path) {
		st.Path = filepath.Join(baseDir, st.Path)
	}
	return st, diags
}

func decodeSchedule(block *hcl.Block, evalCtx *hcl.EvalContext) (*Schedule, hcl.Diagnostics) {
	sch := &Schedule{
		TimeZone:  "UTC",
		Location:  time.UTC,
		FullEvery: DefaultFullEvery,
		DeclRange: block.DefRange,
	}
	sch.FullInterval, _ = time.ParseDuration(DefaultFullEvery)
	content, diags := block.Body.Content(scheduleSchema)

	if attr, ok := content.Attributes["time_zone"]; ok {
		sch.TimeZoneRange = attr.Range
		v, vDiags := staticString(attr, evalCtx)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			loc, err := loadLocation(v)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid time zone",
					Detail:   fmt.Sprintf("%q is not a known IANA time zone. Use a name such as \"UTC\" or \"America/New_York\".", v),
					Subject:  attr.Expr.Range().Ptr(),
				})
			} else {
				sch.TimeZone, sch.Location = v, loc
			}
		}
	}
	if attr, ok := content.Attributes["cron"]; ok {
		sch.CronRange = attr.Range
		v, vDiags := staticString(attr, evalCtx)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			spec, err := cronParser.Parse(v)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid cron expression",
					Detail: fmt.Sprintf("The schedule %q cannot be parsed: %s. "+
						"Write five fields (minute hour day-of-month month day-of-week), "+
						"six with leading seconds, or a descriptor such as \"@hourly\".", v, err),
					Subject: attr.Expr.Range().Ptr(),
				})
			} else {
				sch.Cron, sch.Spec = v, spec
			}
		}
	}
	if attr, ok := content.Attributes["full_every"]; ok {
		sch.FullEveryRange = attr.Range
		v, vDiags := staticString(attr, evalCtx)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid duration",
					Detail: fmt.Sprintf("full_every must be a positive duration, but %q is not one. "+
						"Use a value such as \"24h\" or \"90m\".", v),
					Subject: attr.Expr.Range().Ptr(),
				})
			} else {
				sch.FullEvery, sch.FullInterval = v, d
			}
		}
	}
	return sch, diags
}

// loadLocation rejects "Local" and the empty name, which time.LoadLocation
// accepts: a daemon's schedule must not depend on the host's zone.
func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q is not an IANA name", name)
	}
	return time.LoadLocation(name)
}

var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a schedule the way the schedule block's cron attribute
// is validated: five fields, or six with leading seconds, or a descriptor
// such as "@hourly" or "@every 10m". The scheduler should use it too, so
// that what loads is what runs.
func ParseCron(spec string) (cron.Schedule, error) {
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("parse cron %q: %w", spec, err)
	}
	return s, nil
}

func decodeWebhooks(block *hcl.Block, evalCtx *hcl.EvalContext) (*Webhooks, hcl.Diagnostics) {
	content, remain, diags := block.Body.PartialContent(webhooksSchema)
	wh := &Webhooks{Listen: DefaultListen, DeclRange: block.DefRange, Body: remain}
	if attr, ok := content.Attributes["listen"]; ok {
		v, vDiags := staticString(attr, evalCtx)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			if err := checkListen(v); err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid listen address",
					Detail:   fmt.Sprintf("%q is not a host:port address to listen on: %s. Use a value such as \"127.0.0.1:8080\" or \":8080\".", v, err),
					Subject:  attr.Expr.Range().Ptr(),
				})
			} else {
				wh.Listen = v
			}
		}
	}
	diags = append(diags, decodeWebhookSettings(wh, remain, evalCtx)...)
	return wh, diags
}

// CheckListen is checkListen for addresses given on the command line.
func CheckListen(addr string) error { return checkListen(addr) }

// checkListen accepts what the daemon can listen on, so that a port out
// of range or a malformed host fails validate at its line instead of the
// daemon at start-up: an empty host (every interface), an IP address
// (IPv6 in brackets, optionally with a zone) or a host name, and a port
// number from 0 to 65535.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("it has no port, or more than one colon outside brackets")
	}
	if port == "" || strings.Trim(port, "0123456789") != "" {
		return fmt.Errorf("the port %q is not a number", port)
	}
	if n, err := strconv.Atoi(port); err != nil || n > 65535 {
		return fmt.Errorf("the port %s is not between 0 and 65535", port)
	}
	if host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validHostname(host) {
		return fmt.Errorf("the host %q is neither an IP address nor a host name", host)
	}
	return nil
}

// validHostname is the DNS label syntax: letters, digits and hyphens,
// labels of 1 to 63 characters not starting or ending with a hyphen.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// Format rewrites config source in the canonical layout, for `bellsync
// fmt`. It does not check that src is valid; a file with syntax errors
// comes back with only its whitespace adjusted where possible.
func Format(src []byte) []byte {
	return hclwrite.Format(src)
}

// meaningHash digests what the parser sees of src: its tokens without
// comments, layout or blank lines. A saved plan stays valid when someone
// adds a comment or runs `bellsync fmt`, and goes stale on any change that
// could alter what the config does.
func meaningHash(src []byte, filename string) string {
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	h := sha256.New()
	newline := true // drops leading blank lines and collapses runs
	for _, t := range toks {
		typ, b := t.Type, t.Bytes
		if typ == hclsyntax.TokenComment {
			// A line comment carries the newline that ends its line.
			if !bytes.HasSuffix(b, []byte("\n")) {
				continue
			}
			typ, b = hclsyntax.TokenNewline, []byte("\n")
		}
		if typ == hclsyntax.TokenNewline {
			if newline {
				continue
			}
			b = []byte("\n")
		}
		newline = typ == hclsyntax.TokenNewline
		fmt.Fprintf(h, "%d:%d:", typ, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
