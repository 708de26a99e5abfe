package storage

import (
	"encoding/json"
	"math"
)

// Probe is a validate or files preview body: a new storage to try (ID 0,
// Request), or the stored storage ID with an update over it (Changes); and
// for the files preview, how many files to list.
type Probe struct {
	ID      int64
	Request Request
	Changes Update
	// Limit is 0 when the body gave none (or null).
	Limit int64
}

// DecodeProbe decodes a validate body, or a files preview body when
// maxLimit is above 0 (its "limit", 1 to maxLimit). "id" and "limit" are
// read as every integer field is (Django REST framework's IntegerField);
// their problems are reported before the storage's.
func (d Decoder) DecodeProbe(body []byte, maxLimit int64) (Probe, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return Probe{}, err
	}
	p := parser{fields: fields}
	var probe Probe
	if v := p.nullableInteger("id", 1, math.MaxInt64); v != nil {
		probe.ID = *v
	}
	if maxLimit > 0 {
		if v := p.nullableInteger("limit", 1, maxLimit); v != nil {
			probe.Limit = *v
		}
	}
	if p.errs.Fields != nil {
		return Probe{}, &p.errs
	}
	if probe.ID != 0 {
		probe.Changes, err = d.DecodeUpdate(body)
	} else {
		probe.Request, err = d.DecodeRequest(body)
	}
	return probe, err
}

// DecodeInteger reads one integer value as Django REST framework's
// IntegerField does (5, 5.0, "5" and " 5 " are 5), from lo to hi, for the
// field name in problems. A value left out or null is "required".
func DecodeInteger(field string, raw json.RawMessage, lo, hi int64) (int64, error) {
	p := parser{fields: map[string]json.RawMessage{}}
	if len(raw) != 0 {
		p.fields[field] = raw
	}
	_, present, null := p.raw(field)
	if !present || null {
		p.errs.add(field, msgRequired)
		return 0, &p.errs
	}
	n, ok := p.intValue(field, lo, hi)
	if !ok {
		return 0, &p.errs
	}
	return n, nil
}

// DecodeRequestWithCredentials decodes a create request whose secrets were
// handed over beside the body (an SQS message's or EventBridge event's
// credentials secret): credentials maps token and client_secret to their
// values, which are checked with the body fields' rules and reported under
// those names. The body must not give them too.
func (d Decoder) DecodeRequestWithCredentials(body []byte, credentials map[string]string) (Request, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return Request{}, err
	}
	p := parser{fields: fields}
	r := p.request(d.Hosts, d.Kind)
	for name, value := range credentials {
		if problem := credentialProblem(value); problem != "" {
			p.errs.add(name, problem)
			continue
		}
		switch name {
		case "token":
			r.Secrets.Token = value
		case "client_secret":
			r.Secrets.ClientSecret = value
		}
	}
	if p.errs.Fields["auth_type"] == nil {
		p.requireForAuth(r.AuthType, r.Secrets, r.ClientID, r.TenantID)
	}
	if p.errs.Fields != nil {
		return Request{}, &p.errs
	}
	return r, nil
}
