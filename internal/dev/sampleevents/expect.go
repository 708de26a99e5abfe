package sampleevents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Expectation is what events/README.md says an event file must answer: an
// HTTP status (the tables of HTTP samples) or a JSON value the response must
// contain (the "check" column of the other tables).
type Expectation struct {
	File string
	// Status is the HTTP status of an API Gateway response; 0 when Check
	// applies instead.
	Status int
	// Check is a JSON value the response must contain: objects by their
	// keys (recursively), everything else exactly.
	Check json.RawMessage
}

// ParseExpectations reads the tables of events/README.md: every row whose
// first cell is a `<file>.json` and whose last cell is a status (`201`) or a
// JSON value in backquotes (`{"status_code": 201}`, `null`).
func ParseExpectations(readme []byte) (map[string]Expectation, error) {
	out := map[string]Expectation{}
	for i, line := range strings.Split(string(readme), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "| `") || !strings.HasSuffix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		file := strings.Trim(strings.TrimSpace(cells[0]), "`")
		if !strings.HasSuffix(file, ".json") || len(cells) < 2 {
			continue
		}
		last := strings.TrimSpace(cells[len(cells)-1])
		e := Expectation{File: file}
		if n, err := strconv.Atoi(last); err == nil {
			e.Status = n
		} else {
			raw := strings.Trim(last, "`")
			if !strings.HasPrefix(last, "`") || !json.Valid([]byte(raw)) {
				return nil, fmt.Errorf("events/README.md line %d: %s: the last cell is neither a status nor a JSON value in backquotes: %q", i+1, file, last)
			}
			e.Check = json.RawMessage(raw)
		}
		if _, dup := out[file]; dup {
			return nil, fmt.Errorf("events/README.md line %d: %s is listed twice", i+1, file)
		}
		out[file] = e
	}
	return out, nil
}

// Verify reports how a function's response differs from the expectation.
func (e Expectation) Verify(response []byte) error {
	if e.Status != 0 {
		var resp struct {
			StatusCode int `json:"statusCode"`
		}
		if err := json.Unmarshal(response, &resp); err != nil {
			return fmt.Errorf("%s: want an HTTP response with status %d, got %s", e.File, e.Status, abbreviate(response))
		}
		if resp.StatusCode != e.Status {
			return fmt.Errorf("%s: status %d, want %d: %s", e.File, resp.StatusCode, e.Status, abbreviate(response))
		}
		return nil
	}
	var want, got any
	if err := json.Unmarshal(e.Check, &want); err != nil {
		return fmt.Errorf("%s: the expected value: %w", e.File, err)
	}
	if err := json.Unmarshal(bytes.TrimSpace(response), &got); err != nil {
		return fmt.Errorf("%s: the response is not JSON: %s", e.File, abbreviate(response))
	}
	if !contains(got, want) {
		return fmt.Errorf("%s: the response does not contain %s: %s", e.File, e.Check, abbreviate(response))
	}
	return nil
}

// contains reports whether got holds want: an object every key of want with
// a value that holds want's, anything else an equal value.
func contains(got, want any) bool {
	w, ok := want.(map[string]any)
	if !ok {
		return reflect.DeepEqual(got, want)
	}
	g, ok := got.(map[string]any)
	if !ok {
		return false
	}
	for k, wv := range w {
		gv, present := g[k]
		if !present || !contains(gv, wv) {
			return false
		}
	}
	return true
}

func abbreviate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
