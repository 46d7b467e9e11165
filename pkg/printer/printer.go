// Package printer writes etcdpilot's results in one format per printer:
// "table" for people, "json" (stable field names) for programs.
package printer

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Printer writes one result.
type Printer interface {
	Print(v any) error
}

// New returns the printer for format ("table" or "json").
func New(format string, w io.Writer) (Printer, error) {
	switch format {
	case "table", "":
		return &tablePrinter{w: w}, nil
	case "json":
		return &jsonPrinter{w: w}, nil
	}
	return nil, fmt.Errorf("unknown output format %q: use -w table or -w json", format)
}

type jsonPrinter struct{ w io.Writer }

func (p *jsonPrinter) Print(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Tabler is implemented by results that know their own table layout.
type Tabler interface {
	Table(w io.Writer) error
}

type tablePrinter struct{ w io.Writer }

func (p *tablePrinter) Print(v any) error {
	if t, ok := v.(Tabler); ok {
		return t.Table(p.w)
	}
	if r, ok := renderers[fmt.Sprintf("%T", v)]; ok {
		return r(p.w, v)
	}
	return fmt.Errorf("no table layout for %T; use -w json", v)
}

// renderers hold the table layouts of types from other packages, by type name.
var renderers = map[string]func(io.Writer, any) error{}

// Table writes rows as aligned columns; the first row is the header.
func Table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
