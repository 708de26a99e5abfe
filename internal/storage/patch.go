package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Patch is a partial update as a request gives it: the fields present, as
// raw JSON. A PATCH or PUT of a storage, and a validate or files preview
// with an "id", apply one over the stored storage.
type Patch map[string]json.RawMessage

// DecodePatch parses a body that must be a JSON object (and pass CheckJSON).
func DecodePatch(body []byte) (Patch, error) {
	if err := CheckJSON(body); err != nil {
		return nil, err
	}
	var p Patch
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%w: expected a JSON object, got %s", ErrMalformed, typeErr.Value)
		}
		return nil, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if p == nil {
		return nil, fmt.Errorf("%w: expected a JSON object, got null", ErrMalformed)
	}
	if rest := body[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, fmt.Errorf("%w: unexpected data after the JSON object", ErrMalformed)
	}
	return p, nil
}

// Apply renders the stored storage and its secrets as a create request body
// with the patch's fields over them, so that the Decoder validates the
// result with the create's rules. Omitted fields and omitted secrets keep
// their stored values.
func (p Patch) Apply(stored Settings, secrets Secrets) []byte {
	base, _ := json.Marshal(stored)
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(base, &fields)
	for name, value := range fields {
		// A stored null is a field left out (some fields that may be stored
		// empty may not be sent as null) — but for meta, where a missing
		// field means {}, a stored null stays null.
		if string(value) == "null" && name != "meta" {
			delete(fields, name)
		}
	}
	for name, value := range secrets.Values() {
		fields[name], _ = json.Marshal(value)
	}
	for name, value := range p {
		fields[name] = value
	}
	merged, _ := json.Marshal(fields)
	return merged
}

// msgImmutable is DRF's wording for a field a partial update may not change.
const msgImmutable = "This field cannot be changed."

// CheckImmutable refuses a patch that would move the storage to another
// project or change its type.
func (p Patch) CheckImmutable(stored Storage) error {
	var errs ValidationError
	if raw, ok := p["project"]; ok {
		var project json.Number
		if json.Unmarshal(raw, &project) != nil || project.String() != fmt.Sprint(stored.Project) {
			errs.add("project", msgImmutable)
		}
	}
	if raw, ok := p["type"]; ok {
		var typ string
		if json.Unmarshal(raw, &typ) != nil || typ != stored.Type {
			errs.add("type", msgImmutable)
		}
	}
	if errs.Fields != nil {
		return &errs
	}
	return nil
}

// Connection fields: a change to any of them, or to a secret, means the
// connection must be checked again.
func (c Connection) sameTarget(o Connection) bool {
	c.Timeout, o.Timeout = 0, 0
	return c == o
}

// NeedsCheck reports whether the merged request reaches the workspace
// differently from the stored storage with its stored secrets.
func (r Request) NeedsCheck(stored Settings, secrets Secrets) bool {
	return !r.Connection().sameTarget(Request{Settings: stored, Secrets: secrets}.Connection())
}

// For returns only the secrets the authentication mode uses, so that a
// storage switched from a token to a service principal keeps no stale
// token.
func (s Secrets) For(mode AuthType) Secrets {
	if mode == AuthPAT {
		return Secrets{Token: s.Token}
	}
	return Secrets{ClientSecret: s.ClientSecret}
}
