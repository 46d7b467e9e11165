package printer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// fieldsPrinter is etcdctl's -w fields: one `"Name" : value` line per
// field, strings quoted, numbers and booleans bare, for scripts that grep
// and cut. It walks the result's JSON form in field order; a nested field
// is named by its path ("Members.Name"), and a list repeats its elements'
// fields one element after another, as etcdctl does for member list.
type fieldsPrinter struct{ w io.Writer }

func (p fieldsPrinter) Print(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return fields(p.w, dec, "")
}

// fields writes the next JSON value of dec under the name path.
func fields(w io.Writer, dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			for dec.More() {
				key, err := dec.Token()
				if err != nil {
					return err
				}
				name := key.(string)
				if path != "" {
					name = path + "." + name
				}
				if err := fields(w, dec, name); err != nil {
					return err
				}
			}
		case '[':
			for dec.More() {
				if err := fields(w, dec, path); err != nil {
					return err
				}
			}
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		_, err = fmt.Fprintf(w, "%q : %s\n", path, strconv.Quote(t))
	case json.Number:
		_, err = fmt.Fprintf(w, "%q : %s\n", path, t)
	case bool:
		_, err = fmt.Fprintf(w, "%q : %t\n", path, t)
	case nil:
		// an absent value has no field line
	}
	return err
}
