// Package httpapi serves the storage API over HTTP-shaped requests: routing,
// content negotiation, body limits, and Label Studio's response and error
// formats. Event adapters (API Gateway v1 and v2, the local server) turn
// their inputs into a Request and send back the Response.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/internal/apierror"
	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// MaxBodyBytes is the largest request body accepted (64 KiB).
const MaxBodyBytes = 64 << 10

// Request is an HTTP request as any event source delivers it.
type Request struct {
	Method string
	Path   string
	// Headers holds header values keyed by lower-case name.
	Headers   map[string]string
	Body      []byte
	RequestID string
	// KeyScope qualifies idempotency keys, so that equal keys from different
	// sources or callers never meet.
	KeyScope string
	// Trusted marks requests that AWS has already authorised through IAM
	// (direct, SQS and EventBridge invocations); they carry no API token.
	Trusted bool
}

// Header returns a header value whatever the case of its name.
func (r Request) Header(name string) string {
	if v, ok := r.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Response is what to send back.
type Response struct {
	Status  int
	Headers map[string]string
	Body    []byte
	// Transient is true when the same request may succeed later (AWS or the
	// workspace failed on their side), for event sources that retry.
	Transient bool
}

// Workflow is the storage workflow the API drives.
type Workflow interface {
	CreateIdempotent(ctx context.Context, req storage.Request, key string) (storage.Created, error)
	Validate(ctx context.Context, req storage.Request) error
}

// Header names of the idempotency protocol (as Stripe and the IETF draft
// name them).
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderReplayed       = "Idempotent-Replayed"
	maxIdempotencyKey    = 255
)

// Authenticator resolves an Authorization header to the caller.
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (auth.Principal, error)
}

// Handler answers storage API requests.
type Handler struct {
	Workflow Workflow
	// Auth authenticates untrusted (HTTP) requests; nil lets everyone in,
	// which only tests should do.
	Auth    Authenticator
	Decoder storage.Decoder
	// Version is reported in every error body.
	Version string
	Logger  *slog.Logger
}

type route int

const (
	routeNone route = iota
	routeCreate
	routeValidate
)

func (rt route) String() string {
	switch rt {
	case routeCreate:
		return "create"
	case routeValidate:
		return "validate"
	}
	return "none"
}

const basePath = "/api/storages/databricks"

func match(path string) route {
	switch strings.TrimSuffix(path, "/") {
	case basePath:
		return routeCreate
	case basePath + "/validate":
		return routeValidate
	}
	return routeNone
}

// outcome is what one request produced, for the summary log line.
type outcome struct {
	route     route
	storageID int64
	tokenID   string
	err       error
}

// Serve answers one request and logs one summary line for it.
func (h *Handler) Serve(ctx context.Context, req Request) Response {
	start := time.Now()
	var out outcome
	resp := h.serve(ctx, req, &out)
	var connection *storage.ConnectionError
	resp.Transient = resp.Status >= 500 || (errors.As(out.err, &connection) && connection.Transient())
	attrs := []slog.Attr{
		slog.String("request_id", req.RequestID),
		slog.String("method", req.Method),
		slog.String("route", out.route.String()),
		slog.Int("status", resp.Status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if out.tokenID != "" {
		attrs = append(attrs, slog.String("token_id", out.tokenID))
	}
	if req.Trusted {
		attrs = append(attrs, slog.Bool("trusted", true))
	}
	if out.storageID != 0 {
		attrs = append(attrs, slog.Int64("storage_id", out.storageID))
	}
	level := slog.LevelInfo
	if out.err != nil {
		attrs = append(attrs, slog.String("error", out.err.Error()))
		if resp.Status >= 500 {
			level = slog.LevelError
		}
	}
	h.logger().LogAttrs(ctx, level, "request", attrs...)
	return resp
}

func (h *Handler) serve(ctx context.Context, req Request, out *outcome) Response {
	out.route = match(req.Path)
	if out.route == routeNone {
		return h.fail(http.StatusNotFound, "Not found.", nil)
	}
	var principal *auth.Principal
	if !req.Trusted && h.Auth != nil {
		p, err := h.Auth.Authenticate(ctx, req.Header("Authorization"))
		switch {
		case errors.Is(err, auth.ErrNoCredentials):
			out.err = err
			return h.unauthorized("Authentication credentials were not provided.")
		case errors.Is(err, auth.ErrInvalidToken):
			out.err = err
			return h.unauthorized("Invalid token.")
		case err != nil:
			out.err = err
			return h.fail(http.StatusServiceUnavailable, "Authentication is unavailable right now; retry later.", nil)
		}
		principal = &p
		out.tokenID = p.TokenID
	}
	if req.Method != http.MethodPost {
		resp := h.fail(http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", req.Method), nil)
		resp.Headers["Allow"] = "POST"
		return resp
	}
	if ct := req.Header("Content-Type"); ct != "" && !isJSON(ct) {
		return h.fail(http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request. Send the body as application/json.", truncate(ct, 100)), nil)
	}
	if len(req.Body) > MaxBodyBytes {
		return h.fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body is too large: the limit is %d bytes.", MaxBodyBytes), nil)
	}
	key := req.Header(HeaderIdempotencyKey)
	if out.route == routeCreate && key != "" && !validKey(key) {
		return h.fail(http.StatusBadRequest, fmt.Sprintf("The %s header must be 1 to %d printable ASCII characters.", HeaderIdempotencyKey, maxIdempotencyKey), nil)
	}
	parsed, err := h.Decoder.DecodeRequest(req.Body)
	if err != nil {
		out.err = err
		return h.failFor(err)
	}
	if principal != nil && !principal.CanManage(parsed.Project) {
		out.err = fmt.Errorf("token %s may not manage project %d", principal.TokenID, parsed.Project)
		return h.fail(http.StatusForbidden, fmt.Sprintf("You do not have permission to perform this action: this token may not manage project %d.", parsed.Project), nil)
	}
	switch out.route {
	case routeValidate:
		if err := h.Workflow.Validate(ctx, parsed); err != nil {
			out.err = err
			return h.failFor(err)
		}
		return jsonResponse(http.StatusOK, []byte("{}"))
	default:
		scopedKey := ""
		if key != "" {
			// Keys are per caller: the user is escaped so that no user name
			// and key can spell another pair's scoped key.
			scope := req.KeyScope
			if principal != nil {
				scope += ":" + url.QueryEscape(principal.User)
			}
			scopedKey = scope + ":" + key
		}
		created, err := h.Workflow.CreateIdempotent(ctx, parsed, scopedKey)
		if err != nil {
			out.err = err
			return h.failFor(err)
		}
		out.storageID = created.ID
		body, err := json.Marshal(created.Storage)
		if err != nil {
			out.err = err
			return h.fail(http.StatusInternalServerError, "The storage was created but could not be rendered.", nil)
		}
		resp := jsonResponse(http.StatusCreated, body)
		if created.Replayed {
			resp.Headers[HeaderReplayed] = "true"
		}
		return resp
	}
}

// failFor maps a workflow or decoding error to its Label Studio error.
func (h *Handler) failFor(err error) Response {
	var validation *storage.ValidationError
	var connection *storage.ConnectionError
	switch {
	case errors.Is(err, storage.ErrMalformed):
		return h.fail(http.StatusBadRequest, err.Error(), nil)
	case errors.As(err, &validation):
		return h.fail(http.StatusBadRequest, "Validation error", validation.Fields)
	case errors.As(err, &connection):
		return h.fail(http.StatusBadRequest, connection.Message, map[string][]string{"non_field_errors": {connection.Message}})
	case errors.Is(err, storage.ErrIdempotencyConflict):
		return h.fail(http.StatusUnprocessableEntity, "This Idempotency-Key was already used with a different request. Use a new key for a new request.", nil)
	case errors.Is(err, context.DeadlineExceeded):
		return h.fail(http.StatusGatewayTimeout, "The request took too long and was abandoned; nothing was stored. Retry later.", nil)
	default:
		return h.fail(http.StatusInternalServerError, "Internal server error: the storage could not be saved and nothing was stored. Retry later.", nil)
	}
}

func (h *Handler) unauthorized(detail string) Response {
	resp := h.fail(http.StatusUnauthorized, detail, nil)
	resp.Headers["WWW-Authenticate"] = "Token"
	return resp
}

func (h *Handler) fail(status int, detail string, fields map[string][]string) Response {
	return jsonResponse(status, apierror.New(status, h.Version, detail, fields).JSON())
}

func jsonResponse(status int, body []byte) Response {
	return Response{
		Status:  status,
		Headers: map[string]string{"Content-Type": "application/json"},
		Body:    body,
	}
}

func validKey(key string) bool {
	if len(key) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || (strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json"))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
