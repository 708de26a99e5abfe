package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Update is a partial update decoded at the edge: which fields the request
// gave, each decoded with the create's rules for its field, and left out
// fields kept at their stored values when it is applied (Apply). A PATCH
// or PUT of a storage, a validate or files preview with an "id", and a
// direct update all apply one over the stored storage.
//
// The problems of the given fields are kept and reported by Apply, with
// the cross-field ones, once the stored storage is known: so that a
// missing storage answers 404 and one of another project 403 whatever the
// body, and every problem of a body is listed at once, as for a create.
type Update struct {
	// values holds the given fields' decoded values (and defaults for the
	// others, which are never used).
	values Request
	// given are the names of the fields the request gave (the settings'
	// json names, token and client_secret).
	given map[string]bool
	// problems are the given fields' problems.
	problems ValidationError
	// project and typ are the read-only fields' texts as given, compared
	// with the stored storage by CheckImmutable.
	project, typ *string
	hosts        HostPolicy
}

// Gave reports whether the update gave the field (by its request name).
func (u Update) Gave(field string) bool { return u.given[field] }

// settingsFields maps the settings' json names to their field indexes: the
// fields an update may give, besides the secrets.
var settingsFields = func() map[string]int {
	out := map[string]int{}
	t := reflect.TypeFor[Settings]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out[name] = i
		}
	}
	return out
}()

// DecodeUpdate decodes a partial update. It returns an error wrapping
// ErrMalformed when the body is not a JSON object; the fields' problems
// come from Apply.
func (d Decoder) DecodeUpdate(body []byte) (Update, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return Update{}, err
	}
	p := parser{fields: fields}
	u := Update{values: p.request(d.Hosts, d.Kind), given: map[string]bool{}, hosts: d.Hosts}
	for name := range fields {
		_, setting := settingsFields[name]
		setting = setting && d.Kind.Takes(name)
		if setting || name == "token" || name == "client_secret" {
			u.given[name] = true
		}
	}
	// A field left out is kept, never "required": only the given fields'
	// problems count.
	for name, msgs := range p.errs.Fields {
		if u.given[name] && name != "project" {
			u.problems.Fields = setDefault(u.problems.Fields)
			u.problems.Fields[name] = msgs
		}
	}
	if raw, ok := fields["project"]; ok {
		// Compared as the number's text: "7" and 7 are project 7; 7.0 or
		// anything else is another project.
		var n json.Number
		text := "\x00" // matches no project
		if json.Unmarshal(raw, &n) == nil {
			text = n.String()
		}
		u.project = &text
	}
	if raw, ok := fields["type"]; ok {
		var typ string
		if json.Unmarshal(raw, &typ) != nil {
			typ = "\x00"
		}
		u.typ = &typ
	}
	return u, nil
}

func setDefault(m map[string][]string) map[string][]string {
	if m == nil {
		return map[string][]string{}
	}
	return m
}

// msgImmutable is DRF's wording for a field a partial update may not change.
const msgImmutable = "This field cannot be changed."

// CheckImmutable refuses an update that would move the storage to another
// project or change its type.
func (u Update) CheckImmutable(stored Storage) error {
	var errs ValidationError
	if u.project != nil && *u.project != fmt.Sprint(stored.Project) {
		errs.add("project", msgImmutable)
	}
	if u.typ != nil && *u.typ != stored.Type {
		errs.add("type", msgImmutable)
	}
	if errs.Fields != nil {
		return &errs
	}
	return nil
}

// Apply gives the stored settings and secrets the update's fields and
// validates the result with the create's cross-field rules. It returns a
// *ValidationError listing the given fields' problems and the result's.
//
// Stored credentials are bound to the host (and, for azure_ad_sp, the
// tenant) they were entered for: an update that moves them elsewhere must
// give the secret again, or they are refused here, before any connection.
func (u Update) Apply(stored Settings, secrets Secrets) (Request, error) {
	p := parser{errs: ValidationError{Fields: cloneProblems(u.problems.Fields)}}
	merged := Request{Settings: stored, Secrets: secrets}
	into, from := reflect.ValueOf(&merged.Settings).Elem(), reflect.ValueOf(u.values.Settings)
	for name := range u.given {
		if i, ok := settingsFields[name]; ok && name != "project" {
			into.Field(i).Set(from.Field(i))
		}
	}
	if u.given["token"] {
		merged.Secrets.Token = u.values.Secrets.Token
	}
	if u.given["client_secret"] {
		merged.Secrets.ClientSecret = u.values.Secrets.ClientSecret
	}
	if !u.given["host"] && u.hosts != nil {
		// The stored host passes today's host policy too.
		if _, hostname, err := NormaliseHost(stored.Host); err == nil {
			if err := u.hosts.CheckHost(hostname); err != nil {
				p.errs.add("host", err.Error())
			}
		}
	}
	if p.errs.Fields["auth_type"] == nil {
		p.requireForAuth(merged.AuthType, merged.Secrets, merged.ClientID, merged.TenantID)
	}
	u.bindCredentials(&p, stored, merged)
	if len(p.errs.Fields) != 0 {
		return Request{}, &p.errs
	}
	return merged, nil
}

func cloneProblems(m map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// bindCredentials refuses to send a stored secret to another host, or an
// azure_ad_sp client secret to another tenant, than it was entered for:
// whoever may change a storage's settings may not thereby obtain its
// credentials. The update must give the secret again.
func (u Update) bindCredentials(p *parser, stored Settings, merged Request) {
	field := "token"
	storedSecret := Secrets{Token: merged.Secrets.Token}
	if merged.AuthType != AuthPAT {
		field, storedSecret = "client_secret", Secrets{ClientSecret: merged.Secrets.ClientSecret}
	}
	if u.given[field] || storedSecret == (Secrets{}) {
		return // given again, or none to send
	}
	for _, name := range []string{field, "host", "auth_type", "tenant_id"} {
		if p.errs.Fields[name] != nil {
			return // the problem already refuses the update
		}
	}
	switch {
	case !sameHost(stored.Host, merged.Host):
		p.errs.add(field, fmt.Sprintf("Give the %s again: stored credentials are not sent to a new host.", field))
	case stored.AuthType != merged.AuthType:
		// dbx_sp sends the client secret to the workspace, azure_ad_sp to
		// the tenant's Microsoft Entra ID authority.
		p.errs.add(field, fmt.Sprintf("Give the %s again: stored credentials are not used with another auth_type.", field))
	case merged.AuthType == AuthAzureADSP && deref(stored.TenantID) != deref(merged.TenantID):
		p.errs.add(field, fmt.Sprintf("Give the %s again: stored credentials are not sent to a new tenant.", field))
	}
}

// sameHost compares workspace URLs as NormaliseHost writes them.
func sameHost(a, b string) bool {
	na, _, errA := NormaliseHost(a)
	nb, _, errB := NormaliseHost(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return na == nb
}

// decodeObject parses a body that must be a JSON object Label Studio's
// parser can read (CheckJSON).
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%w: expected a JSON object, got %s", ErrMalformed, typeErr.Value)
		}
		return nil, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if fields == nil {
		return nil, fmt.Errorf("%w: expected a JSON object, got null", ErrMalformed)
	}
	if rest := body[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, fmt.Errorf("%w: unexpected data after the JSON object", ErrMalformed)
	}
	return fields, nil
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
