// Package httpapi serves the storage API over HTTP: routing, content
// negotiation, body limits, authentication, and Label Studio's response and
// error formats. It is a plain net/http handler: the local server serves it
// directly, and in Lambda package eventsource turns API Gateway events into
// requests for it. Every operation is a call of package core.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/internal/apierror"
	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Core is the part of core.Service the API drives.
type Core interface {
	Create(ctx context.Context, caller core.Caller, req storage.Request, key string) (core.Created, error)
	Validate(ctx context.Context, caller core.Caller, req storage.Request) error
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
	Authenticate(ctx context.Context, authorization string) (core.Principal, error)
}

// Handler answers storage API requests. It implements http.Handler.
type Handler struct {
	Core Core
	// Auth authenticates every request; nil lets everyone in with access to
	// every project, which only tests should do.
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

// BasePath is where the storage API lives.
const BasePath = "/api/storages/databricks"

func match(path string) route {
	switch strings.TrimSuffix(path, "/") {
	case BasePath:
		return routeCreate
	case BasePath + "/validate":
		return routeValidate
	}
	return routeNone
}

// outcome is what one request produced, for the summary log line.
type outcome struct {
	route     route
	status    int
	storageID int64
	tokenID   string
	err       error
}

// ServeHTTP answers one request and logs one summary line for it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var out outcome
	h.serve(w, r, &out)
	attrs := []slog.Attr{
		slog.String("request_id", logging.RequestID(r.Context())),
		slog.String("method", r.Method),
		slog.String("route", out.route.String()),
		slog.Int("status", out.status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if out.tokenID != "" {
		attrs = append(attrs, slog.String("token_id", out.tokenID))
	}
	if out.storageID != 0 {
		attrs = append(attrs, slog.Int64("storage_id", out.storageID))
	}
	level := slog.LevelInfo
	if out.err != nil {
		attrs = append(attrs, slog.String("error", out.err.Error()))
		if out.status >= 500 {
			level = slog.LevelError
		}
	}
	h.logger().LogAttrs(r.Context(), level, "request", attrs...)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, out *outcome) {
	ctx := r.Context()
	out.route = match(r.URL.Path)
	if out.route == routeNone {
		h.fail(w, out, http.StatusNotFound, "Not found.", nil)
		return
	}
	caller := core.TrustedSource("unauthenticated")
	if h.Auth != nil {
		p, err := h.Auth.Authenticate(ctx, r.Header.Get("Authorization"))
		out.err = err
		switch {
		case errors.Is(err, auth.ErrNoCredentials):
			h.unauthorized(w, out, "Authentication credentials were not provided.")
			return
		case errors.Is(err, auth.ErrInvalidToken):
			h.unauthorized(w, out, "Invalid token.")
			return
		case err != nil:
			h.fail(w, out, http.StatusServiceUnavailable, "Authentication is unavailable right now; retry later.", nil)
			return
		}
		caller = core.TokenHolder(p)
		out.tokenID = p.TokenID
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, out, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method), nil)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		h.fail(w, out, http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request. Send the body as application/json.", truncate(ct, 100)), nil)
		return
	}
	body, err := readBody(r)
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	key := r.Header.Get(HeaderIdempotencyKey)
	if out.route == routeCreate && key != "" && !validKey(key) {
		h.fail(w, out, http.StatusBadRequest, fmt.Sprintf("The %s header must be 1 to %d printable ASCII characters.", HeaderIdempotencyKey, maxIdempotencyKey), nil)
		return
	}
	req, err := h.Decoder.DecodeRequest(body)
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	if out.route == routeValidate {
		if err := h.Core.Validate(ctx, caller, req); err != nil {
			h.failFor(w, out, err)
			return
		}
		out.status = http.StatusOK
		writeJSON(w, http.StatusOK, []byte("{}"))
		return
	}
	created, err := h.Core.Create(ctx, caller, req, key)
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	out.storageID = created.ID
	rendered, err := json.Marshal(created.Storage)
	if err != nil {
		out.err = err
		h.fail(w, out, http.StatusInternalServerError, "The storage was created but could not be rendered.", nil)
		return
	}
	if created.Replayed {
		w.Header().Set(HeaderReplayed, "true")
	}
	out.status = http.StatusCreated
	writeJSON(w, http.StatusCreated, rendered)
}

// readBody reads at most one byte more than the limit, so that a larger
// body is refused without being read whole.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, storage.MaxRequestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: the body could not be read", storage.ErrMalformed)
	}
	if len(body) > storage.MaxRequestBytes {
		return nil, storage.ErrTooLarge
	}
	return body, nil
}

// failFor answers with the Label Studio error of a core or decoding error.
func (h *Handler) failFor(w http.ResponseWriter, out *outcome, err error) {
	out.err = err
	status, detail, fields := apierror.For(err)
	h.fail(w, out, status, detail, fields)
}

func (h *Handler) unauthorized(w http.ResponseWriter, out *outcome, detail string) {
	w.Header().Set("WWW-Authenticate", "Token")
	h.fail(w, out, http.StatusUnauthorized, detail, nil)
}

func (h *Handler) fail(w http.ResponseWriter, out *outcome, status int, detail string, fields map[string][]string) {
	out.status = status
	writeJSON(w, status, apierror.New(status, h.Version, detail, fields).JSON())
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
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
