// Package jsonpos turns the byte offsets in encoding/json's errors into
// the line and column a person editing the file can find.
package jsonpos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Wrap returns err with the line and column of the offset it carries
// prefixed, when it is a syntax or type error about data. Other errors are
// returned as they are.
func Wrap(data []byte, err error) error {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	case errors.Is(err, io.ErrUnexpectedEOF):
		off = int64(len(data))
	}
	if off < 0 {
		return err
	}
	// Offset counts the bytes read up to and including the one at fault;
	// at the end of the data, the fault is that nothing follows.
	if off > 0 && off < int64(len(data)) {
		off--
	}
	line, col := Position(data, off)
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// Position is the 1-based line and column (in characters) of byte offset
// off in data. An offset past the end is placed just after the last byte.
func Position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	head := data[:off]
	line = bytes.Count(head, []byte("\n")) + 1
	if i := bytes.LastIndexByte(head, '\n'); i >= 0 {
		head = head[i+1:]
	}
	return line, utf8.RuneCount(head) + 1
}
