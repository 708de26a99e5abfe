package storage

// The decoder: a create or validate request body, field by field, in the
// serializer's order.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// HostPolicy decides whether a workspace hostname may be used at all. The
// connection-time checks (what it resolves to) happen in the dialer.
type HostPolicy interface {
	CheckHost(hostname string) error
}

// Decoder turns request bodies into validated requests.
type Decoder struct {
	// Hosts, when set, refuses hostnames outside the allowed workspaces.
	Hosts HostPolicy
	// Kind is the kind of storage the bodies describe (their route's):
	// it decides which fields are read, and is the requests' Kind.
	Kind Kind
}

// DecodeRequest parses and validates a create or validate request body. It
// returns an error wrapping ErrMalformed when the body is not a JSON object
// (or fails CheckJSON), and a *ValidationError listing every field problem
// otherwise.
func (d Decoder) DecodeRequest(body []byte) (Request, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return Request{}, err
	}
	p := parser{fields: fields}
	r := p.request(d.Hosts, d.Kind)
	if p.errs.Fields["auth_type"] == nil {
		p.requireForAuth(r.AuthType, r.Secrets, r.ClientID, r.TenantID)
	}
	if p.errs.Fields != nil {
		return Request{}, &p.errs
	}
	return r, nil
}

// request parses every field of a request with its field's rules: a field
// left out gets its default, or a "required" problem. The cross-field
// rules (requireForAuth) are the caller's, run over the whole storage.
// The create decodes a body with it, and an update the fields it gives.
func (p *parser) request(hosts HostPolicy, kind Kind) Request {
	var r Request
	s := &r.Settings
	s.Kind = kind

	s.Catalog = p.name("catalog")
	s.Schema = p.name("schema")
	s.Volume = p.name("volume")
	s.Host = p.host("host", hosts)
	s.Project = p.project("project")

	s.AuthType = AuthType(p.choice("auth_type", []string{string(AuthPAT), string(AuthDatabricksSP), string(AuthAzureADSP)}, string(DefaultAuthType)))
	r.Secrets.Token = p.credential("token")
	r.Secrets.ClientSecret = p.credential("client_secret")
	s.ClientID = optional(p.credential("client_id"))
	s.TenantID = optional(p.credential("tenant_id"))

	s.Prefix = p.prefix("prefix")
	s.RegexFilter = p.nullableString("regex_filter", 0)
	if kind.Takes("recursive_scan") {
		s.RecursiveScan = p.boolean("recursive_scan", false)
	}
	s.UseBlobURLs = p.boolean("use_blob_urls", false)
	s.VerifyTLS = p.boolean("verify_tls", true)
	s.RequestTimeoutS = p.integer("request_timeout_s", 1, MaxRequestTimeoutS, DefaultRequestTimeoutS)
	s.StreamChunkBytes = p.integer("stream_chunk_bytes", MinStreamChunkBytes, MaxStreamChunkBytes, DefaultStreamChunkBytes)
	if kind.Takes("presign") {
		s.Presign = p.boolean("presign", false)
		s.PresignTTL = p.integer("presign_ttl", MinPresignTTL, MaxPresignTTL, DefaultPresignTTL)
	}
	if kind.Takes("can_delete_objects") {
		s.CanDeleteObjects = p.boolean("can_delete_objects", false)
	}
	s.Synchronizable = p.boolean("synchronizable", true)
	s.Status = p.choice("status", statusChoices, DefaultStatus)
	s.Title = p.nullableString("title", maxTitleLength)
	s.Description = p.nullableString("description", 0)
	s.LastSync = p.datetime("last_sync")
	s.LastSyncCount = p.nullableInteger("last_sync_count", 0, maxLastSyncCount)
	s.LastSyncJob = p.nullableString("last_sync_job", maxLastSyncJob)
	s.Meta = p.anyJSON("meta")
	s.Traceback = p.nullableString("traceback", 0)
	return r
}

// jsonProblem describes a syntax error without echoing the body, which may
// hold secrets.
func jsonProblem(err error) string {
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("JSON parse error at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	}
	if errors.Is(err, io.EOF) {
		return "the body is empty"
	}
	return "JSON parse error: " + err.Error()
}
