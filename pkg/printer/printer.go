// Package printer writes every result etcdpilot prints, one printer per
// output format, as etcdctl does: "table" for people, "json" for programs
// (the result's own stable field names), "simple", etcdctl's one line
// per record with the fields separated by ", ", and "fields", one
// `"Name" : value` line per field. The layout is chosen by the
// result's type.
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

// Formats lists the output formats.
const Formats = "table, json, simple, fields"

// New returns the printer for format.
func New(format string, w io.Writer) (Printer, error) {
	switch format {
	case "table", "":
		return tablePrinter{w}, nil
	case "json":
		return jsonPrinter{w}, nil
	case "simple":
		return simplePrinter{w}, nil
	case "fields":
		return fieldsPrinter{w}, nil
	}
	return nil, fmt.Errorf("unknown output format %q: use -w table, -w json, -w simple or -w fields", format)
}

// Value is a result that is one value (a path, a version): table and
// simple print the value alone, json an object {Name: Value}.
type Value struct {
	Name, Value string
}

// MarshalJSON writes {Name: Value}.
func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(map[string]string{v.Name: v.Value}) }

// Tabler is a result that lays out its own table (the benchmarks).
type Tabler interface {
	Table(w io.Writer) error
}

type jsonPrinter struct{ w io.Writer }

func (p jsonPrinter) Print(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// view is how one result reads: lines before its records, the records
// (with column names), lines after; or a layout of its own for results
// with several tables.
type view struct {
	head   []string
	cols   []string
	rows   [][]string
	tail   []string
	layout func(w io.Writer) error
}

type tablePrinter struct{ w io.Writer }

func (p tablePrinter) Print(v any) error {
	vw, err := viewOf(v)
	if err != nil {
		return err
	}
	if vw.layout != nil {
		return vw.layout(p.w)
	}
	for _, l := range vw.head {
		fmt.Fprintln(p.w, l)
	}
	if len(vw.cols) > 0 {
		if err := Table(p.w, append([][]string{vw.cols}, vw.rows...)); err != nil {
			return err
		}
	}
	for _, l := range vw.tail {
		fmt.Fprintln(p.w, l)
	}
	return nil
}

// simplePrinter writes one line per record; a result without records is
// written as its lines.
type simplePrinter struct{ w io.Writer }

func (p simplePrinter) Print(v any) error {
	vw, err := viewOf(v)
	if err != nil {
		return err
	}
	if len(vw.rows) == 0 && len(vw.head) == 0 && len(vw.tail) == 0 && vw.layout != nil {
		return vw.layout(p.w)
	}
	for _, l := range vw.head {
		fmt.Fprintln(p.w, strings.TrimSpace(l))
	}
	for _, r := range vw.rows {
		fmt.Fprintln(p.w, strings.Join(r, ", "))
	}
	for _, l := range vw.tail {
		if l = strings.TrimSpace(l); l != "" {
			fmt.Fprintln(p.w, l)
		}
	}
	return nil
}

// Table writes rows as aligned columns; the first row is the header.
func Table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func wrap(s string) string { return strings.Join(strings.Fields(s), " ") }

// lines is a layout of plain lines.
func lines(ls ...string) *view { return &view{head: ls} }
